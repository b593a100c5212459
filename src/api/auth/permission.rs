//! Permissions of roles, and the options of the user and role calls.

use crate::api::{prefix_end, KeyRange};
use crate::error::{Error, Result};
use crate::wire::auth as w;
use crate::wire::codec::B64;

pub use crate::wire::auth::PermissionType;

/// Options for [`AuthClient::user_add`](crate::AuthClient::user_add).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct UserAddOptions {
    pub(super) no_password: bool,
}

impl UserAddOptions {
    /// A user with a password.
    pub const fn new() -> Self {
        UserAddOptions { no_password: false }
    }

    /// A user without a password (authenticated by a client certificate only).
    pub const fn with_no_pwd(mut self) -> Self {
        self.no_password = true;
        self
    }
}

/// Options for [`AuthClient::role_revoke_permission`](crate::AuthClient::role_revoke_permission): which range the permission covered.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct RoleRevokePermissionOptions {
    pub(super) range: KeyRange,
}

impl RoleRevokePermissionOptions {
    /// The permission on the one key.
    pub const fn new() -> Self {
        RoleRevokePermissionOptions {
            range: KeyRange::Key,
        }
    }

    key_range_setters!(with_range_end);
}

/// A permission of a role: read, write or both, on a key or a range.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Permission {
    perm_type: PermissionType,
    key: Vec<u8>,
    range: KeyRange,
}

impl Permission {
    /// A permission of this type on one key.
    pub fn new(perm_type: PermissionType, key: impl Into<Vec<u8>>) -> Self {
        Permission {
            perm_type,
            key: key.into(),
            range: KeyRange::Key,
        }
    }

    /// Reading the key.
    pub fn read(key: impl Into<Vec<u8>>) -> Self {
        Permission::new(PermissionType::Read, key)
    }

    /// Writing the key.
    pub fn write(key: impl Into<Vec<u8>>) -> Self {
        Permission::new(PermissionType::Write, key)
    }

    /// Reading and writing the key.
    pub fn read_write(key: impl Into<Vec<u8>>) -> Self {
        Permission::new(PermissionType::Readwrite, key)
    }

    key_range_setters!(with_range_end);
    /// The key (the start of the range), as etcd stores it.
    pub fn key(&self) -> &[u8] {
        match self.range {
            KeyRange::AllKeys => &[0],
            _ if self.key.is_empty()
                && matches!(self.range, KeyRange::Prefix | KeyRange::FromKey) =>
            {
                &[0]
            }
            _ => &self.key,
        }
    }

    /// The end of the range, as etcd stores it (empty for a single key).
    pub fn range_end(&self) -> Vec<u8> {
        self.range
            .resolve(self.key.clone())
            .map(|(_, end)| end)
            .unwrap_or_default()
    }

    /// The key as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8`] if it is not UTF-8.
    pub fn key_str(&self) -> Result<&str> {
        std::str::from_utf8(self.key()).map_err(Error::from)
    }

    /// The permission's type as etcd's number (etcd-client's signature).
    pub const fn get_type(&self) -> i32 {
        self.perm_type as i32
    }

    /// The permission's type.
    pub const fn perm_type(&self) -> PermissionType {
        self.perm_type
    }

    /// Whether it covers every key from its key on.
    pub fn is_from_key(&self) -> bool {
        matches!(self.range, KeyRange::FromKey) || self.range_end() == [0]
    }

    /// Whether it covers the keys starting with its key.
    pub fn is_prefix(&self) -> bool {
        match &self.range {
            KeyRange::Prefix => true,
            KeyRange::Range(end) => !self.key.is_empty() && *end == prefix_end(&self.key),
            _ => false,
        }
    }

    pub(super) fn from_wire(p: w::Permission) -> Self {
        Permission {
            perm_type: p.perm_type,
            range: if p.range_end.is_empty() {
                KeyRange::Key
            } else {
                KeyRange::Range(p.range_end.0)
            },
            key: p.key.0,
        }
    }

    pub(super) fn into_wire(self) -> Result<w::Permission> {
        let (key, range_end) = self.range.resolve(self.key)?;
        Ok(w::Permission {
            perm_type: self.perm_type,
            key: B64(key),
            range_end: B64(range_end),
        })
    }
}
