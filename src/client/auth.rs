//! `Client`'s Auth calls: users, roles, permissions, auth on and off (see `api::auth`).

use super::Client;
use crate::api::auth::{
    AuthClient, AuthDisableResponse, AuthEnableResponse, AuthStatusResponse, Permission,
    RoleAddResponse, RoleDeleteResponse, RoleGetResponse, RoleGrantPermissionResponse,
    RoleListResponse, RoleRevokePermissionOptions, RoleRevokePermissionResponse, UserAddOptions,
    UserAddResponse, UserChangePasswordResponse, UserDeleteResponse, UserGetResponse,
    UserGrantRoleResponse, UserListResponse, UserRevokeRoleResponse,
};
use crate::error::Result;

impl Client {
    /// The Auth service, sharing this client's connections.
    pub fn auth_client(&self) -> AuthClient {
        AuthClient::new(self.transport.clone())
    }

    /// Turns auth on; see [`AuthClient::auth_enable`].
    pub async fn auth_enable(&self) -> Result<AuthEnableResponse> {
        self.auth_client().auth_enable().await
    }

    /// Turns auth off; see [`AuthClient::auth_disable`].
    pub async fn auth_disable(&self) -> Result<AuthDisableResponse> {
        self.auth_client().auth_disable().await
    }

    /// Tells whether auth is on; see [`AuthClient::auth_status`].
    pub async fn auth_status(&self) -> Result<AuthStatusResponse> {
        self.auth_client().auth_status().await
    }

    /// Adds a user; see [`AuthClient::user_add`].
    pub async fn user_add(
        &self,
        name: impl Into<String>,
        password: impl Into<String>,
        options: Option<UserAddOptions>,
    ) -> Result<UserAddResponse> {
        self.auth_client().user_add(name, password, options).await
    }

    /// Tells a user's roles; see [`AuthClient::user_get`].
    pub async fn user_get(&self, name: impl Into<String>) -> Result<UserGetResponse> {
        self.auth_client().user_get(name).await
    }

    /// Lists the users; see [`AuthClient::user_list`].
    pub async fn user_list(&self) -> Result<UserListResponse> {
        self.auth_client().user_list().await
    }

    /// Deletes a user; see [`AuthClient::user_delete`].
    pub async fn user_delete(&self, name: impl Into<String>) -> Result<UserDeleteResponse> {
        self.auth_client().user_delete(name).await
    }

    /// Changes a password; see [`AuthClient::user_change_password`].
    pub async fn user_change_password(
        &self,
        name: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<UserChangePasswordResponse> {
        self.auth_client()
            .user_change_password(name, password)
            .await
    }

    /// Grants a role to a user; see [`AuthClient::user_grant_role`].
    pub async fn user_grant_role(
        &self,
        user: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<UserGrantRoleResponse> {
        self.auth_client().user_grant_role(user, role).await
    }

    /// Revokes a role from a user; see [`AuthClient::user_revoke_role`].
    pub async fn user_revoke_role(
        &self,
        user: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<UserRevokeRoleResponse> {
        self.auth_client().user_revoke_role(user, role).await
    }

    /// Adds a role; see [`AuthClient::role_add`].
    pub async fn role_add(&self, name: impl Into<String>) -> Result<RoleAddResponse> {
        self.auth_client().role_add(name).await
    }

    /// Tells a role's permissions; see [`AuthClient::role_get`].
    pub async fn role_get(&self, name: impl Into<String>) -> Result<RoleGetResponse> {
        self.auth_client().role_get(name).await
    }

    /// Lists the roles; see [`AuthClient::role_list`].
    pub async fn role_list(&self) -> Result<RoleListResponse> {
        self.auth_client().role_list().await
    }

    /// Deletes a role; see [`AuthClient::role_delete`].
    pub async fn role_delete(&self, name: impl Into<String>) -> Result<RoleDeleteResponse> {
        self.auth_client().role_delete(name).await
    }

    /// Grants a permission; see [`AuthClient::role_grant_permission`].
    pub async fn role_grant_permission(
        &self,
        name: impl Into<String>,
        perm: Permission,
    ) -> Result<RoleGrantPermissionResponse> {
        self.auth_client().role_grant_permission(name, perm).await
    }

    /// Revokes a permission; see [`AuthClient::role_revoke_permission`].
    pub async fn role_revoke_permission(
        &self,
        name: impl Into<String>,
        key: impl Into<Vec<u8>>,
        options: Option<RoleRevokePermissionOptions>,
    ) -> Result<RoleRevokePermissionResponse> {
        self.auth_client()
            .role_revoke_permission(name, key, options)
            .await
    }
}
