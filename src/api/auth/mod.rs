//! The Auth service: enabling auth, users, roles and permissions, with etcd-client's names.
//!
//! Authenticating as a user is a connection option
//! ([`ConnectOptions::with_user`](crate::ConnectOptions::with_user)): the token is fetched,
//! attached and refreshed by the transport. [`AuthClient::authenticate`] only asks for a token
//! and hands it over, as etcd-client's does, without changing the client's own.

use std::fmt;

use super::ResponseHeader;
use crate::error::{Error, Result};
use crate::transport::{CallOptions, Idempotency, Transport};
use crate::wire::auth as w;
use crate::wire::codec::B64;
use crate::wire::paths;

mod permission;

pub use permission::{Permission, PermissionType, RoleRevokePermissionOptions, UserAddOptions};

/// The Auth service of a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct AuthClient {
    transport: Transport,
}

header_response! {
    /// The answer to enabling auth.
    AuthEnableResponse
}
header_response! {
    /// The answer to disabling auth.
    AuthDisableResponse
}
header_response! {
    /// The answer to adding a user.
    UserAddResponse
}
header_response! {
    /// The answer to deleting a user.
    UserDeleteResponse
}
header_response! {
    /// The answer to changing a password.
    UserChangePasswordResponse
}
header_response! {
    /// The answer to granting a role to a user.
    UserGrantRoleResponse
}
header_response! {
    /// The answer to revoking a role from a user.
    UserRevokeRoleResponse
}
header_response! {
    /// The answer to adding a role.
    RoleAddResponse
}
header_response! {
    /// The answer to deleting a role.
    RoleDeleteResponse
}
header_response! {
    /// The answer to granting a permission to a role.
    RoleGrantPermissionResponse
}
header_response! {
    /// The answer to revoking a permission from a role.
    RoleRevokePermissionResponse
}

fn name_of(kind: &str, name: String) -> Result<String> {
    if name.is_empty() {
        return Err(Error::invalid(format!("the {kind} name is empty")));
    }
    Ok(name)
}

impl AuthClient {
    pub(crate) fn new(transport: Transport) -> Self {
        AuthClient { transport }
    }

    async fn header_call<Req: serde::Serialize>(
        &self,
        path: &'static str,
        request: &Req,
        idempotency: Idempotency,
    ) -> Result<Option<crate::wire::ResponseHeader>> {
        let reply: w::AuthHeaderResponse = self.transport.call(path, request, idempotency).await?;
        Ok(Some(reply.header))
    }

    /// Turns auth on. The `root` user must exist and have the `root` role.
    ///
    /// # Errors
    /// [`RootUserNotExist`](crate::ServerErrorKind::RootUserNotExist),
    /// [`RootRoleNotExist`](crate::ServerErrorKind::RootRoleNotExist).
    pub async fn auth_enable(&self) -> Result<AuthEnableResponse> {
        let header = self
            .header_call(paths::AUTH_ENABLE, &w::Empty {}, Idempotency::Write)
            .await?;
        Ok(AuthEnableResponse::new(header))
    }

    /// Turns auth off (as root).
    pub async fn auth_disable(&self) -> Result<AuthDisableResponse> {
        let header = self
            .header_call(paths::AUTH_DISABLE, &w::Empty {}, Idempotency::Write)
            .await?;
        Ok(AuthDisableResponse::new(header))
    }

    /// Tells whether auth is on, and the auth store's revision (beyond etcd-client).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on etcd 3.4, whose gateway lacks the call.
    pub async fn auth_status(&self) -> Result<AuthStatusResponse> {
        let reply: w::AuthStatusResponse = self
            .transport
            .call(paths::AUTH_STATUS, &w::Empty {}, Idempotency::Read)
            .await?;
        Ok(AuthStatusResponse {
            header: Some(ResponseHeader(reply.header)),
            enabled: reply.enabled,
            auth_revision: reply.auth_revision.0,
        })
    }

    /// Asks for a token for `name` and `password`, without changing this client's own (as
    /// etcd-client's does).
    ///
    /// # Errors
    /// [`AuthFailed`](crate::ServerErrorKind::AuthFailed) for a wrong password or an unknown
    /// user; [`AuthNotEnabled`](crate::ServerErrorKind::AuthNotEnabled).
    pub async fn authenticate(
        &self,
        name: String,
        password: String,
    ) -> Result<AuthenticateResponse> {
        let request = w::AuthenticateRequest { name, password };
        let options = CallOptions {
            anonymous: true,
            ..CallOptions::new(Idempotency::Read)
        };
        let reply: w::AuthenticateResponse = self
            .transport
            .call_with(paths::AUTH_AUTHENTICATE, &request, options)
            .await?;
        Ok(AuthenticateResponse {
            header: Some(ResponseHeader(reply.header)),
            token: reply.token,
        })
    }

    /// Adds a user, with a password or, with [`UserAddOptions::with_no_pwd`], without one
    /// (such a user can only be used through a client certificate).
    ///
    /// # Errors
    /// [`UserAlreadyExist`](crate::ServerErrorKind::UserAlreadyExist); an empty name is refused
    /// before sending.
    pub async fn user_add(
        &self,
        name: impl Into<String>,
        password: impl Into<String>,
        options: Option<UserAddOptions>,
    ) -> Result<UserAddResponse> {
        let no_password = options.unwrap_or_default().no_password;
        let request = w::UserAddRequest {
            name: name_of("user", name.into())?,
            password: if no_password {
                String::new()
            } else {
                password.into()
            },
            options: no_password.then_some(w::UserAddOptions { no_password }),
        };
        let header = self
            .header_call(paths::USER_ADD, &request, Idempotency::Write)
            .await?;
        Ok(UserAddResponse::new(header))
    }

    /// Tells a user's roles.
    ///
    /// # Errors
    /// [`UserNotFound`](crate::ServerErrorKind::UserNotFound).
    pub async fn user_get(&self, name: impl Into<String>) -> Result<UserGetResponse> {
        let request = w::NameRequest {
            name: name_of("user", name.into())?,
        };
        let reply: w::RolesResponse = self
            .transport
            .call(paths::USER_GET, &request, Idempotency::Read)
            .await?;
        Ok(UserGetResponse {
            header: Some(ResponseHeader(reply.header)),
            roles: reply.roles,
        })
    }

    /// Lists the users.
    pub async fn user_list(&self) -> Result<UserListResponse> {
        let reply: w::UserListResponse = self
            .transport
            .call(paths::USER_LIST, &w::Empty {}, Idempotency::Read)
            .await?;
        Ok(UserListResponse {
            header: Some(ResponseHeader(reply.header)),
            users: reply.users,
        })
    }

    /// Deletes a user.
    ///
    /// # Errors
    /// [`UserNotFound`](crate::ServerErrorKind::UserNotFound).
    pub async fn user_delete(&self, name: impl Into<String>) -> Result<UserDeleteResponse> {
        let request = w::NameRequest {
            name: name_of("user", name.into())?,
        };
        let header = self
            .header_call(paths::USER_DELETE, &request, Idempotency::Write)
            .await?;
        Ok(UserDeleteResponse::new(header))
    }

    /// Changes a user's password.
    pub async fn user_change_password(
        &self,
        name: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<UserChangePasswordResponse> {
        let request = w::UserChangePasswordRequest {
            name: name_of("user", name.into())?,
            password: password.into(),
        };
        let header = self
            .header_call(paths::USER_CHANGE_PASSWORD, &request, Idempotency::Write)
            .await?;
        Ok(UserChangePasswordResponse::new(header))
    }

    /// Grants a role to a user.
    pub async fn user_grant_role(
        &self,
        name: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<UserGrantRoleResponse> {
        let request = w::UserGrantRoleRequest {
            user: name_of("user", name.into())?,
            role: name_of("role", role.into())?,
        };
        let header = self
            .header_call(paths::USER_GRANT_ROLE, &request, Idempotency::Write)
            .await?;
        Ok(UserGrantRoleResponse::new(header))
    }

    /// Revokes a role from a user.
    pub async fn user_revoke_role(
        &self,
        name: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<UserRevokeRoleResponse> {
        let request = w::UserRevokeRoleRequest {
            name: name_of("user", name.into())?,
            role: name_of("role", role.into())?,
        };
        let header = self
            .header_call(paths::USER_REVOKE_ROLE, &request, Idempotency::Write)
            .await?;
        Ok(UserRevokeRoleResponse::new(header))
    }

    /// Adds a role.
    pub async fn role_add(&self, name: impl Into<String>) -> Result<RoleAddResponse> {
        let request = w::NameRequest {
            name: name_of("role", name.into())?,
        };
        let header = self
            .header_call(paths::ROLE_ADD, &request, Idempotency::Write)
            .await?;
        Ok(RoleAddResponse::new(header))
    }

    /// Tells a role's permissions.
    ///
    /// # Errors
    /// [`RoleNotFound`](crate::ServerErrorKind::RoleNotFound).
    pub async fn role_get(&self, name: impl Into<String>) -> Result<RoleGetResponse> {
        let request = w::RoleRequest {
            role: name_of("role", name.into())?,
        };
        let reply: w::RoleGetResponse = self
            .transport
            .call(paths::ROLE_GET, &request, Idempotency::Read)
            .await?;
        Ok(RoleGetResponse {
            header: Some(ResponseHeader(reply.header)),
            permissions: reply.perm.into_iter().map(Permission::from_wire).collect(),
        })
    }

    /// Lists the roles.
    pub async fn role_list(&self) -> Result<RoleListResponse> {
        let reply: w::RolesResponse = self
            .transport
            .call(paths::ROLE_LIST, &w::Empty {}, Idempotency::Read)
            .await?;
        Ok(RoleListResponse {
            header: Some(ResponseHeader(reply.header)),
            roles: reply.roles,
        })
    }

    /// Deletes a role.
    pub async fn role_delete(&self, name: impl Into<String>) -> Result<RoleDeleteResponse> {
        let request = w::RoleRequest {
            role: name_of("role", name.into())?,
        };
        let header = self
            .header_call(paths::ROLE_DELETE, &request, Idempotency::Write)
            .await?;
        Ok(RoleDeleteResponse::new(header))
    }

    /// Grants a permission (read, write or both, on a key, a range or a prefix) to a role.
    pub async fn role_grant_permission(
        &self,
        name: impl Into<String>,
        perm: Permission,
    ) -> Result<RoleGrantPermissionResponse> {
        let request = w::RoleGrantPermissionRequest {
            name: name_of("role", name.into())?,
            perm: perm.into_wire()?,
        };
        let header = self
            .header_call(paths::ROLE_GRANT_PERMISSION, &request, Idempotency::Write)
            .await?;
        Ok(RoleGrantPermissionResponse::new(header))
    }

    /// Revokes a role's permission on a key, or on the range the options give.
    ///
    /// # Errors
    /// [`PermissionNotGranted`](crate::ServerErrorKind::PermissionNotGranted) if the role has no
    /// such permission.
    pub async fn role_revoke_permission(
        &self,
        name: impl Into<String>,
        key: impl Into<Vec<u8>>,
        options: Option<RoleRevokePermissionOptions>,
    ) -> Result<RoleRevokePermissionResponse> {
        let (key, range_end) = options.unwrap_or_default().range.resolve(key.into())?;
        let request = w::RoleRevokePermissionRequest {
            role: name_of("role", name.into())?,
            key: B64(key),
            range_end: B64(range_end),
        };
        let header = self
            .header_call(paths::ROLE_REVOKE_PERMISSION, &request, Idempotency::Write)
            .await?;
        Ok(RoleRevokePermissionResponse::new(header))
    }
}

/// The answer to an auth status query.
#[derive(Debug, Clone)]
pub struct AuthStatusResponse {
    header: Option<ResponseHeader>,
    enabled: bool,
    auth_revision: u64,
}

impl AuthStatusResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// Whether auth is on.
    pub const fn enabled(&self) -> bool {
        self.enabled
    }

    /// The auth store's revision (it changes with every user, role or permission change).
    pub const fn auth_revision(&self) -> u64 {
        self.auth_revision
    }
}

/// The answer to an authenticate call: a token. `Debug` does not show it.
#[derive(Clone)]
pub struct AuthenticateResponse {
    header: Option<ResponseHeader>,
    token: String,
}

impl fmt::Debug for AuthenticateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateResponse")
            .field("header", &self.header)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl AuthenticateResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The token: send it as the `Authorization` header, as it is (no `Bearer `).
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The answer to a user query: the user's roles.
#[derive(Debug, Clone)]
pub struct UserGetResponse {
    header: Option<ResponseHeader>,
    roles: Vec<String>,
}

impl UserGetResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The user's roles.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}

/// The answer to a user listing.
#[derive(Debug, Clone)]
pub struct UserListResponse {
    header: Option<ResponseHeader>,
    users: Vec<String>,
}

impl UserListResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The users.
    pub fn users(&self) -> &[String] {
        &self.users
    }
}

/// The answer to a role query: its permissions.
#[derive(Debug, Clone)]
pub struct RoleGetResponse {
    header: Option<ResponseHeader>,
    permissions: Vec<Permission>,
}

impl RoleGetResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The role's permissions (a copy, as in etcd-client).
    pub fn permissions(&self) -> Vec<Permission> {
        self.permissions.clone()
    }
}

/// The answer to a role listing.
#[derive(Debug, Clone)]
pub struct RoleListResponse {
    header: Option<ResponseHeader>,
    roles: Vec<String>,
}

impl RoleListResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The roles.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_resolve_their_ranges_as_etcd_stores_them() {
        let p = Permission::read("data/").with_prefix();
        assert_eq!(p.range_end(), b"data0");
        assert!(p.is_prefix() && !p.is_from_key());
        let wire = p.into_wire().unwrap();
        assert_eq!(
            (wire.key.0, wire.range_end.0),
            (b"data/".to_vec(), b"data0".to_vec())
        );
        let all = Permission::read_write("").with_all_keys();
        assert_eq!((all.key(), all.range_end()), (&[0u8][..], &[0u8][..]));
        assert!(all.is_from_key());
        assert_eq!(Permission::write("k").get_type(), 1);
        assert!(
            Permission::read("").into_wire().is_err(),
            "an empty key is refused"
        );
    }

    #[test]
    fn a_permission_read_back_knows_its_prefix() {
        let p = Permission::from_wire(w::Permission {
            perm_type: PermissionType::Readwrite,
            key: B64(b"app/".to_vec()),
            range_end: B64(b"app0".to_vec()),
        });
        assert!(p.is_prefix());
        assert_eq!(p.key_str().unwrap(), "app/");
        assert_eq!(p.perm_type(), PermissionType::Readwrite);
    }
}
