//! The Auth service's messages. No I/O.
//!
//! Requests name users and roles by different fields depending on the call (`name`, `user`,
//! `role`; GATEWAY.md 1), and a permission's type is `permType`, left out for READ: a wrong
//! spelling is silently ignored and grants READ (pitfall 8).

use serde::{Deserialize, Serialize};

use super::codec::{is_false, wire_enum, B64, U64};
use super::ResponseHeader;

wire_enum! {
    /// What a permission allows (`authpb.Permission.Type`).
    PermissionType {
        /// Reading keys.
        Read = 0 => "READ",
        /// Writing keys.
        Write = 1 => "WRITE",
        /// Both.
        Readwrite = 2 => "READWRITE",
    }
}

/// The request of auth enable, disable, status, user list and role list: no fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct Empty {}

/// An answer that is only a header (most auth calls).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct AuthHeaderResponse {
    pub(crate) header: ResponseHeader,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct AuthStatusResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) enabled: bool,
    #[serde(rename = "authRevision", default)]
    pub(crate) auth_revision: U64,
}

/// Carries a password: never logged, never in `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct AuthenticateRequest {
    pub(crate) name: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for AuthenticateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticateRequest")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Carries a token: never logged, never in `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct AuthenticateResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) token: String,
}

impl std::fmt::Debug for AuthenticateResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticateResponse")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct UserAddOptions {
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) no_password: bool,
}

/// Carries a password: never logged, never in `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct UserAddRequest {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) options: Option<UserAddOptions>,
}

impl std::fmt::Debug for UserAddRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAddRequest")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Carries a password: never logged, never in `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct UserChangePasswordRequest {
    pub(crate) name: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for UserChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChangePasswordRequest")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The request of user get and user delete, and of role add.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct NameRequest {
    pub(crate) name: String,
}

/// The request of role get and role delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct RoleRequest {
    pub(crate) role: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct UserGrantRoleRequest {
    pub(crate) user: String,
    pub(crate) role: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct UserRevokeRoleRequest {
    pub(crate) name: String,
    pub(crate) role: String,
}

/// The answer of user get and role list: names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct RolesResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct UserListResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) users: Vec<String>,
}

/// `authpb.Permission`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct Permission {
    #[serde(
        rename = "permType",
        default,
        skip_serializing_if = "PermissionType::is_default"
    )]
    pub(crate) perm_type: PermissionType,
    #[serde(default, skip_serializing_if = "B64::is_empty")]
    pub(crate) key: B64,
    #[serde(default, skip_serializing_if = "B64::is_empty")]
    pub(crate) range_end: B64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct RoleGetResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) perm: Vec<Permission>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct RoleGrantPermissionRequest {
    pub(crate) name: String,
    pub(crate) perm: Permission,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct RoleRevokePermissionRequest {
    pub(crate) role: String,
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) key: B64,
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) range_end: B64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    #[test]
    fn requests_use_each_calls_own_field_names() {
        let cases: Vec<(&str, serde_json::Value)> = vec![
            (
                "75-auth-user-add-nopassword",
                serde_json::to_value(UserAddRequest {
                    name: "bob".into(),
                    password: String::new(),
                    options: Some(UserAddOptions { no_password: true }),
                })
                .unwrap(),
            ),
            (
                "75-auth-user-grant",
                serde_json::to_value(UserGrantRoleRequest {
                    user: "alice".into(),
                    role: "reader".into(),
                })
                .unwrap(),
            ),
            (
                "79-auth-user-revoke-role",
                serde_json::to_value(UserRevokeRoleRequest {
                    name: "alice".into(),
                    role: "reader".into(),
                })
                .unwrap(),
            ),
            (
                "75-auth-role-get-rw",
                serde_json::to_value(RoleRequest { role: "rw".into() }).unwrap(),
            ),
            (
                "79-auth-role-revoke-permission-range",
                serde_json::to_value(RoleRevokePermissionRequest {
                    role: "reader".into(),
                    key: B64(b"data/".to_vec()),
                    range_end: B64(b"data0".to_vec()),
                })
                .unwrap(),
            ),
        ];
        for (capture, ours) in cases {
            for (v, ex) in fixtures::both(capture) {
                assert_eq!(ours, ex[0].request_json(), "{capture}.{v}");
            }
        }
    }

    #[test]
    fn read_permissions_leave_out_their_type_and_others_spell_permtype() {
        let read = Permission {
            perm_type: PermissionType::Read,
            key: B64(b"data/".to_vec()),
            range_end: B64(b"data0".to_vec()),
        };
        let grant = RoleGrantPermissionRequest {
            name: "reader".into(),
            perm: read,
        };
        let mut captured = fixtures::both("75-auth-role-grant-read-prefix")[0].1[0].request_json();
        captured["perm"].as_object_mut().unwrap().remove("permType"); // READ is the zero value
        assert_eq!(serde_json::to_value(&grant).unwrap(), captured);
        for (v, body) in fixtures::bodies("75-auth-role-get-rw") {
            let r: RoleGetResponse = serde_json::from_slice(&body).unwrap();
            assert_eq!(r.perm[0].perm_type, PermissionType::Readwrite, "{v}");
            assert_eq!(r.perm[1].perm_type, PermissionType::Write, "{v}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let req = AuthenticateRequest {
            name: "root".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{req:?}").contains("hunter2"));
        let resp: AuthenticateResponse =
            serde_json::from_slice(&fixtures::bodies("73-auth-authenticate")[0].1).unwrap();
        assert!(!resp.token.is_empty() && !format!("{resp:?}").contains(&resp.token));
    }
}
