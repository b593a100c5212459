//! The Auth service: [`AuthClient`], [`Permission`] and [`RoleGetResponse`].

use std::fmt;

use crate::kv::{header_accessors, wraps};
use crate::{
    utf8_prefix, AuthDisableResponse, AuthEnableResponse, AuthenticateResponse, PermissionType,
    Result, RoleAddResponse, RoleDeleteResponse, RoleGrantPermissionResponse, RoleListResponse,
    RoleRevokePermissionOptions, RoleRevokePermissionResponse, UserAddOptions, UserAddResponse,
    UserChangePasswordResponse, UserDeleteResponse, UserGetResponse, UserGrantRoleResponse,
    UserListResponse, UserRevokeRoleResponse,
};

/// A role's permission: read, write or both, on a key, a range, a prefix or every key.
#[derive(Clone, PartialEq, Eq)]
pub struct Permission(etcdgw::Permission);

impl fmt::Debug for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Permission {
    /// A permission of this type on one key.
    pub fn new(perm_type: PermissionType, key: impl Into<Vec<u8>>) -> Self {
        Permission(etcdgw::Permission::new(perm_type, key))
    }

    /// Reading the key.
    pub fn read(key: impl Into<Vec<u8>>) -> Self {
        Permission(etcdgw::Permission::read(key))
    }

    /// Writing the key.
    pub fn write(key: impl Into<Vec<u8>>) -> Self {
        Permission(etcdgw::Permission::write(key))
    }

    /// Reading and writing the key.
    pub fn read_write(key: impl Into<Vec<u8>>) -> Self {
        Permission(etcdgw::Permission::read_write(key))
    }

    /// Covers the keys from the key up to `range_end` (excluded).
    pub fn with_range_end(self, range_end: impl Into<Vec<u8>>) -> Self {
        Permission(self.0.with_range_end(range_end))
    }

    /// Covers every key from the key on.
    pub fn with_from_key(self) -> Self {
        Permission(self.0.with_from_key())
    }

    /// Covers the keys that start with the key.
    pub fn with_prefix(self) -> Self {
        Permission(self.0.with_prefix())
    }

    /// Covers every key.
    pub fn with_all_keys(self) -> Self {
        Permission(self.0.with_all_keys())
    }

    /// The key (the start of the range), as etcd stores it.
    pub fn key(&self) -> &[u8] {
        self.0.key()
    }

    /// The end of the range, as etcd stores it (empty for a single key).
    pub fn range_end(&self) -> &[u8] {
        self.0.range_end()
    }

    /// The key as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8Error`](crate::Error::Utf8Error) if it is not.
    pub fn key_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.key())?)
    }

    /// The key as UTF-8, which the caller promises it is.
    ///
    /// # Safety
    /// None needed here: the bytes are checked anyway, and a key that is not UTF-8 gives its
    /// longest UTF-8 start. `unsafe` as in etcd-client, so that code calling it compiles.
    #[allow(unsafe_code)]
    pub unsafe fn key_str_unchecked(&self) -> &str {
        utf8_prefix(self.key())
    }

    /// The end of the range as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8Error`](crate::Error::Utf8Error) if it is not.
    pub fn range_end_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.range_end())?)
    }

    /// The end of the range as UTF-8, which the caller promises it is (the range end, where
    /// etcd-client 0.21.1's returns the key).
    ///
    /// # Safety
    /// None needed here, as for [`key_str_unchecked`](Self::key_str_unchecked).
    #[allow(unsafe_code)]
    pub unsafe fn range_end_str_unchecked(&self) -> &str {
        utf8_prefix(self.range_end())
    }

    /// The permission's type as etcd's number.
    pub const fn get_type(&self) -> i32 {
        self.0.get_type()
    }

    /// Whether it covers every key from its key on.
    pub fn is_from_key(&self) -> bool {
        self.0.is_from_key()
    }

    /// Whether it covers the keys starting with its key.
    pub fn is_prefix(&self) -> bool {
        self.0.is_prefix()
    }
}

impl From<etcdgw::Permission> for Permission {
    fn from(inner: etcdgw::Permission) -> Self {
        Permission(inner)
    }
}

impl From<Permission> for etcdgw::Permission {
    fn from(outer: Permission) -> Self {
        outer.0
    }
}

/// The answer to a role query: its permissions.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct RoleGetResponse(etcdgw::RoleGetResponse);

impl RoleGetResponse {
    header_accessors!();

    /// The role's permissions (a copy, as in etcd-client).
    pub fn permissions(&self) -> Vec<Permission> {
        self.0.permissions().into_iter().map(Permission).collect()
    }
}

wraps!(RoleGetResponse);

/// The Auth service's client.
#[derive(Debug, Clone)]
pub struct AuthClient(etcdgw::AuthClient);

impl AuthClient {
    pub(crate) fn new(inner: etcdgw::AuthClient) -> Self {
        AuthClient(inner)
    }

    /// Turns authentication on.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn auth_enable(&mut self) -> Result<AuthEnableResponse> {
        Ok(self.0.auth_enable().await?)
    }

    /// Turns authentication off.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn auth_disable(&mut self) -> Result<AuthDisableResponse> {
        Ok(self.0.auth_disable().await?)
    }

    /// Asks for a token, without changing this client's own.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn authenticate(
        &mut self,
        name: String,
        password: String,
    ) -> Result<AuthenticateResponse> {
        Ok(self.0.authenticate(name, password).await?)
    }

    /// Adds a role.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn role_add(&mut self, name: impl Into<String>) -> Result<RoleAddResponse> {
        Ok(self.0.role_add(name).await?)
    }

    /// Deletes a role.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn role_delete(&mut self, name: impl Into<String>) -> Result<RoleDeleteResponse> {
        Ok(self.0.role_delete(name).await?)
    }

    /// A role's permissions.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn role_get(&mut self, name: impl Into<String>) -> Result<RoleGetResponse> {
        Ok(RoleGetResponse(self.0.role_get(name).await?))
    }

    /// Lists the roles.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn role_list(&mut self) -> Result<RoleListResponse> {
        Ok(self.0.role_list().await?)
    }

    /// Grants a permission to a role.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn role_grant_permission(
        &mut self,
        name: impl Into<String>,
        perm: Permission,
    ) -> Result<RoleGrantPermissionResponse> {
        Ok(self.0.role_grant_permission(name, perm.0).await?)
    }

    /// Revokes a role's permission on a key, or on the range the options give.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn role_revoke_permission(
        &mut self,
        name: impl Into<String>,
        key: impl Into<Vec<u8>>,
        options: Option<RoleRevokePermissionOptions>,
    ) -> Result<RoleRevokePermissionResponse> {
        Ok(self.0.role_revoke_permission(name, key, options).await?)
    }

    /// Adds a user.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn user_add(
        &mut self,
        name: impl Into<String>,
        password: impl Into<String>,
        options: Option<UserAddOptions>,
    ) -> Result<UserAddResponse> {
        Ok(self.0.user_add(name, password, options).await?)
    }

    /// A user's roles.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn user_get(&mut self, name: impl Into<String>) -> Result<UserGetResponse> {
        Ok(self.0.user_get(name).await?)
    }

    /// Lists the users.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn user_list(&mut self) -> Result<UserListResponse> {
        Ok(self.0.user_list().await?)
    }

    /// Deletes a user.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn user_delete(&mut self, name: impl Into<String>) -> Result<UserDeleteResponse> {
        Ok(self.0.user_delete(name).await?)
    }

    /// Changes a user's password.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn user_change_password(
        &mut self,
        name: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<UserChangePasswordResponse> {
        Ok(self.0.user_change_password(name, password).await?)
    }

    /// Grants a role to a user.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn user_grant_role(
        &mut self,
        name: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<UserGrantRoleResponse> {
        Ok(self.0.user_grant_role(name, role).await?)
    }

    /// Revokes a role from a user.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn user_revoke_role(
        &mut self,
        name: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<UserRevokeRoleResponse> {
        Ok(self.0.user_revoke_role(name, role).await?)
    }
}
