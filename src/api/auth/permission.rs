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
///
/// Two permissions are equal when they cover the same keys as etcd stores them: a permission
/// built with [`with_from_key`](Self::with_from_key) equals the one read back from the server,
/// whose range is `[key, "\0")`.
#[derive(Debug, Clone)]
#[must_use]
pub struct Permission {
    perm_type: PermissionType,
    key: Vec<u8>,
    range: KeyRange,
    /// The key and range end as etcd stores them, kept in step with `key` and `range`.
    stored: (Vec<u8>, Vec<u8>),
}

impl PartialEq for Permission {
    fn eq(&self, other: &Self) -> bool {
        self.perm_type == other.perm_type && self.stored == other.stored
    }
}

impl Eq for Permission {}

impl Permission {
    /// A permission of this type on one key.
    pub fn new(perm_type: PermissionType, key: impl Into<Vec<u8>>) -> Self {
        let key = key.into();
        Permission {
            perm_type,
            stored: (key.clone(), Vec::new()),
            key,
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

    key_range_setters!(with_range_end, Permission::with_key_range);

    /// Takes a new range, and works out how etcd stores it (an empty key that etcd would
    /// refuse is kept as given; sending it fails with [`Error::InvalidArgument`]).
    fn with_key_range(self, range: KeyRange) -> Self {
        let stored = range.resolve(self.key.clone()).unwrap_or_else(|_| {
            let end = match &range {
                KeyRange::Range(end) => end.clone(),
                _ => Vec::new(),
            };
            (self.key.clone(), end)
        });
        Permission {
            range,
            stored,
            ..self
        }
    }

    /// The key (the start of the range), as etcd stores it (`"\0"` for all keys).
    pub fn key(&self) -> &[u8] {
        &self.stored.0
    }

    /// The key as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8`] if it is not UTF-8.
    pub fn key_str(&self) -> Result<&str> {
        std::str::from_utf8(self.key()).map_err(Error::from)
    }

    /// The end of the range, as etcd stores it: empty for a single key, `"\0"` for every key
    /// from the key on.
    pub fn range_end(&self) -> &[u8] {
        &self.stored.1
    }

    /// The end of the range as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8`] if it is not UTF-8 (a prefix's end often is not: `"\0"`, or a last
    /// byte above 0x7f).
    pub fn range_end_str(&self) -> Result<&str> {
        std::str::from_utf8(self.range_end()).map_err(Error::from)
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
        self.range_end() == [0]
    }

    /// Whether it covers the keys starting with its key.
    pub fn is_prefix(&self) -> bool {
        let (key, end) = &self.stored;
        !key.is_empty() && !end.is_empty() && *end == prefix_end(key) && end.as_slice() != [0]
    }

    pub(super) fn from_wire(p: w::Permission) -> Self {
        let permission = Permission::new(p.perm_type, p.key.0);
        if p.range_end.is_empty() {
            permission
        } else {
            permission.with_key_range(KeyRange::Range(p.range_end.0))
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
