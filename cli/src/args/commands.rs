//! The arguments of each command (the global flags are in `mod.rs`).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// `get [options] <key> [range_end]`
#[derive(Args, Clone, Default)]
pub(crate) struct GetArgs {
    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l")]
    pub(crate) consistency: String,
    /// Order of results; ASCEND or DESCEND (ASCEND by default)
    #[arg(long)]
    pub(crate) order: Option<String>,
    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION
    #[arg(long)]
    pub(crate) sort_by: Option<String>,
    /// Maximum number of results
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) limit: i64,
    /// Get keys with matching prefix
    #[arg(long)]
    pub(crate) prefix: bool,
    /// Get keys that are greater than or equal to the given key using byte compare
    #[arg(long)]
    pub(crate) from_key: bool,
    /// Specify the kv revision
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) rev: i64,
    /// Get only the keys
    #[arg(long)]
    pub(crate) keys_only: bool,
    /// Get only the count (with --write-out=fields, as etcdctl)
    #[arg(long)]
    pub(crate) count_only: bool,
    /// Only write values when using the "simple" output format
    #[arg(long)]
    pub(crate) print_value_only: bool,
    /// <key> [range_end]
    #[arg(value_name = "KEY")]
    pub(crate) args: Vec<String>,
}

/// `put [options] <key> <value>`
#[derive(Args, Clone, Default)]
pub(crate) struct PutArgs {
    /// Lease ID (in hexadecimal) to attach to the key
    #[arg(long, default_value = "0")]
    pub(crate) lease: String,
    /// Return the previous key-value pair before modification
    #[arg(long)]
    pub(crate) prev_kv: bool,
    /// Updates the key using its current value
    #[arg(long)]
    pub(crate) ignore_value: bool,
    /// Updates the key using its current lease
    #[arg(long)]
    pub(crate) ignore_lease: bool,
    /// <key> <value> (the value is read from stdin when not given; `put <key> -- <value>`
    /// for a value starting with '-')
    #[arg(value_name = "KEY")]
    pub(crate) args: Vec<String>,
}

/// `del [options] <key> [range_end]`
#[derive(Args, Clone, Default)]
pub(crate) struct DelArgs {
    /// Delete keys with matching prefix
    #[arg(long)]
    pub(crate) prefix: bool,
    /// Return deleted key-value pairs
    #[arg(long)]
    pub(crate) prev_kv: bool,
    /// Delete keys that are greater than or equal to the given key using byte compare
    #[arg(long)]
    pub(crate) from_key: bool,
    /// <key> [range_end]
    #[arg(value_name = "KEY")]
    pub(crate) args: Vec<String>,
}

/// `txn [options]`
#[derive(Args)]
#[command(after_help = crate::txn::SYNTAX_HELP)]
pub(crate) struct TxnArgs {
    /// Input transaction in interactive mode (prompts for each section)
    #[arg(short, long)]
    pub(crate) interactive: bool,
    #[arg(hide = true)]
    pub(crate) args: Vec<String>,
}

/// `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`
#[derive(Args)]
pub(crate) struct WatchArgs {
    /// Interactive mode: reads `watch [options] <key> [range_end] [-- command]` and `progress`
    /// lines from stdin
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Watch on a prefix if prefix is set
    #[arg(long)]
    pub(crate) prefix: bool,
    /// Revision to start watching
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) rev: i64,
    /// Get the previous key-value pair before the event happens
    #[arg(long)]
    pub(crate) prev_kv: bool,
    /// Get periodic watch progress notification from server
    #[arg(long)]
    pub(crate) progress_notify: bool,
    /// [key or prefix] [range_end]
    #[arg(value_name = "KEY")]
    pub(crate) args: Vec<String>,
    /// A command to run for each event, after `--` (ETCD_WATCH_* variables describe the event)
    #[arg(last = true, value_name = "EXEC")]
    pub(crate) exec: Vec<String>,
}

/// `compaction [options] <revision>`
#[derive(Args)]
pub(crate) struct CompactionArgs {
    /// 'true' to wait for compaction to physically remove all old revisions
    #[arg(long)]
    pub(crate) physical: bool,
    /// <revision>
    #[arg(value_name = "REVISION", allow_negative_numbers = true)]
    pub(crate) args: Vec<String>,
}

/// `make-mirror [options] <destination>`
#[derive(Args)]
#[command(after_help = MAKE_MIRROR_HELP)]
pub(crate) struct MakeMirrorArgs {
    /// Key-value prefix to mirror
    #[arg(long, default_value = "")]
    pub(crate) prefix: String,
    /// Specify the kv revision to start to mirror (its changes and the later ones, without a
    /// copy of the current state; 0: copy the current state, then follow its changes)
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) rev: i64,
    /// Maximum number of operations permitted in a transaction during syncing updates
    #[arg(long, default_value_t = etcdgw::mirror::DEFAULT_MAX_TXN_OPS, value_name = "N")]
    pub(crate) max_txn_ops: usize,
    /// Destination prefix to mirror a prefix to a different prefix in the destination cluster
    #[arg(long, default_value = "")]
    pub(crate) dest_prefix: String,
    /// Mirror key-values to the root of the destination cluster
    #[arg(long)]
    pub(crate) no_dest_prefix: bool,
    /// Identify secure client using this TLS certificate file for the destination cluster
    #[arg(long, value_name = "FILE", value_parser = file_or_empty)]
    pub(crate) dest_cert: Option<PathBuf>,
    /// Identify secure client using this TLS key file (for the destination cluster)
    #[arg(long, value_name = "FILE", value_parser = file_or_empty)]
    pub(crate) dest_key: Option<PathBuf>,
    /// Verify certificates of TLS enabled secure servers using this CA bundle (for the
    /// destination cluster)
    #[arg(long, value_name = "FILE", value_parser = file_or_empty)]
    pub(crate) dest_cacert: Option<PathBuf>,
    /// Disable transport security for client connections (to the destination; with =false,
    /// a destination without a scheme uses https)
    #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = ArgAction::Set, value_name = "BOOL")]
    pub(crate) dest_insecure_transport: bool,
    /// Destination username[:password] for authentication (prompt if password is not supplied)
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub(crate) dest_user: Option<String>,
    /// Destination password for authentication (if this option is used, --dest-user shouldn't
    /// include password)
    #[arg(long)]
    pub(crate) dest_password: Option<String>,
    /// <destination>: the destination cluster's endpoint (or endpoints, comma separated)
    #[arg(value_name = "DESTINATION")]
    pub(crate) args: Vec<String>,
}

/// A file flag that may be empty (then no file, as etcdctl's `--dest-*` flags), where clap's
/// own path parser refuses an empty value.
fn file_or_empty(value: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(value))
}

const MAKE_MIRROR_HELP: &str = "\
The global flags (--endpoints, --cacert, --user, ...) name the source; the destination is the
argument, with the --dest-* flags (and the global timeouts). The keys under --prefix are copied
as they are at one revision of the source, then every change after it is applied in order, the
changes of one source revision in one destination transaction (split at --max-txn-ops); the
destination's keys get no lease. Every 30 s, the number of keys written or deleted so far is
printed on a line of its own, as etcdctl prints it. Ctrl-C (SIGINT or SIGTERM) prints the count
once more, says on stderr up to which source revision the destination is complete (--rev with
the next one resumes from there) and exits with 0. If the source compacts history the mirror
still needs (it fell behind, say while cut off), it ends as etcdctl does: `Error: etcdserver:
mvcc: required revision has been compacted`, exit 1.";

/// `lease <subcommand>`
#[derive(Subcommand)]
pub(crate) enum LeaseCommand {
    /// Creates leases
    Grant {
        /// <ttl> in seconds
        #[arg(value_name = "TTL", allow_negative_numbers = true)]
        args: Vec<String>,
    },
    /// Revokes leases
    Revoke {
        /// <leaseID> in hexadecimal
        #[arg(value_name = "LEASE_ID")]
        args: Vec<String>,
    },
    /// Get lease information
    Timetolive {
        /// Get keys attached to this lease
        #[arg(long)]
        keys: bool,
        /// <leaseID> in hexadecimal
        #[arg(value_name = "LEASE_ID")]
        args: Vec<String>,
    },
    /// List all active leases
    List {
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Keeps leases alive (renew)
    KeepAlive {
        /// Resets the keep-alive time to its original value and exits immediately
        #[arg(long)]
        once: bool,
        /// <leaseID> in hexadecimal
        #[arg(value_name = "LEASE_ID")]
        args: Vec<String>,
    },
}

/// `lock <lockname> [exec-command arg1 arg2 ...]`
#[derive(Args)]
pub(crate) struct LockArgs {
    /// Timeout for session (the TTL of the lease the lock is tied to, in seconds)
    #[arg(long, default_value_t = 10)]
    pub(crate) ttl: i64,
    /// <lockname> [exec-command arg1 arg2 ...] (everything after the name is the command)
    #[arg(
        value_name = "LOCKNAME",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) args: Vec<String>,
}

/// `elect <election-name> [proposal]`
#[derive(Args)]
pub(crate) struct ElectArgs {
    /// Observation mode
    #[arg(short, long)]
    pub(crate) listen: bool,
    /// <election-name> [proposal]
    #[arg(value_name = "NAME")]
    pub(crate) args: Vec<String>,
}

/// `member <subcommand>`
#[derive(Subcommand)]
pub(crate) enum MemberCommand {
    /// Adds a member into the cluster (prints the ETCD_* settings the new member starts with)
    Add {
        /// Comma separated peer URLs for the new member
        #[arg(long, default_value = "", value_name = "URLS")]
        peer_urls: String,
        /// Indicates if the new member is raft learner
        #[arg(long)]
        learner: bool,
        /// <memberName>
        #[arg(value_name = "MEMBER_NAME")]
        args: Vec<String>,
    },
    /// Removes a member from the cluster
    Remove {
        /// <memberID> in hexadecimal
        #[arg(value_name = "MEMBER_ID")]
        args: Vec<String>,
    },
    /// Updates a member in the cluster
    Update {
        /// Comma separated peer URLs for the updated member
        #[arg(long, default_value = "", value_name = "URLS")]
        peer_urls: String,
        /// <memberID> in hexadecimal
        #[arg(value_name = "MEMBER_ID")]
        args: Vec<String>,
    },
    /// Lists all members in the cluster
    List {
        /// Linearizable(l) or Serializable(s)
        #[arg(long, default_value = "l")]
        consistency: String,
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Promotes a non-voting learner member to a voting one in the cluster
    Promote {
        /// <memberID> in hexadecimal
        #[arg(value_name = "MEMBER_ID")]
        args: Vec<String>,
    },
}

/// `alarm <subcommand>`
#[derive(Subcommand)]
pub(crate) enum AlarmCommand {
    /// Disarms all alarms
    Disarm {
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Lists all alarms
    List {
        #[arg(hide = true)]
        args: Vec<String>,
    },
}

/// `downgrade <subcommand>`
#[derive(Subcommand)]
pub(crate) enum DowngradeCommand {
    /// Validate downgrade capability before starting downgrade
    Validate {
        /// <TARGET_VERSION>, e.g. 3.5
        #[arg(value_name = "TARGET_VERSION")]
        args: Vec<String>,
    },
    /// Start a downgrade action to cluster
    Enable {
        /// <TARGET_VERSION>, e.g. 3.5
        #[arg(value_name = "TARGET_VERSION")]
        args: Vec<String>,
    },
    /// Cancel the ongoing downgrade action to cluster
    Cancel {
        #[arg(hide = true)]
        args: Vec<String>,
    },
}

/// `check <subcommand>`
#[derive(Subcommand)]
pub(crate) enum CheckCommand {
    /// Check the performance of the etcd cluster (writes for 60 s at the load's rate, then
    /// judges throughput and latency as etcdctl does)
    Perf(CheckArgs),
    /// Check the memory usage of holding data for different workloads on a given server
    /// endpoint (the first of --endpoints)
    Datascale(CheckArgs),
}

/// The flags of `check perf` and `check datascale`.
#[derive(Args)]
pub(crate) struct CheckArgs {
    /// The workload model: s(small), m(medium), l(large), xl(xLarge)
    #[arg(long, default_value = "s", value_name = "LOAD")]
    pub(crate) load: String,
    /// The prefix for writing the check's keys [default: /etcdctl-check-perf/ or
    /// /etcdctl-check-datascale/]
    #[arg(long, value_name = "PREFIX")]
    pub(crate) prefix: Option<String>,
    /// Compact storage with last revision after test is finished
    #[arg(long)]
    pub(crate) auto_compact: bool,
    /// Defragment storage after test is finished
    #[arg(long)]
    pub(crate) auto_defrag: bool,
    #[arg(hide = true)]
    pub(crate) args: Vec<String>,
}

/// `endpoint <subcommand>`
#[derive(Args)]
pub(crate) struct EndpointArgs {
    /// Use all endpoints from the cluster member list
    #[arg(long, global = true)]
    pub(crate) cluster: bool,
    #[command(subcommand)]
    pub(crate) command: EndpointCommand,
}

/// `endpoint health|status|hashkv`
#[derive(Subcommand)]
pub(crate) enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    Health,
    /// Prints out the status of endpoints specified in `--endpoints` flag
    Status,
    /// Prints the KV history hash for each endpoint in --endpoints (the gateway of etcd
    /// 3.5.10 and later)
    Hashkv {
        /// Maximum revision to hash (default: all revisions)
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        rev: i64,
    },
}

/// `snapshot <subcommand>`
#[derive(Subcommand)]
pub(crate) enum SnapshotCommand {
    /// Stores an etcd node backend snapshot to a given file (from exactly one endpoint)
    Save {
        /// <filename>
        #[arg(value_name = "FILENAME")]
        args: Vec<String>,
    },
}

/// `defrag [options]`
#[derive(Args)]
pub(crate) struct DefragArgs {
    /// Use all endpoints from the cluster member list
    #[arg(long)]
    pub(crate) cluster: bool,
}

/// `auth <enable or disable>`
#[derive(Subcommand)]
pub(crate) enum AuthCommand {
    /// Enables authentication
    Enable {
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Disables authentication
    Disable {
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Returns authentication status (etcd 3.5 and later)
    Status {
        #[arg(hide = true)]
        args: Vec<String>,
    },
}

/// `user <subcommand>`
#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Adds a new user
    Add {
        /// Read password from stdin instead of interactive terminal (--interactive=false)
        #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true,
              default_missing_value = "true", action = ArgAction::Set)]
        interactive: bool,
        /// Supply password from the command line flag
        #[arg(long)]
        new_user_password: Option<String>,
        /// Create a user without password (CN based auth only)
        #[arg(long)]
        no_password: bool,
        /// <user name or user:password>
        #[arg(value_name = "USER")]
        args: Vec<String>,
    },
    /// Deletes a user
    Delete {
        /// <user name>
        #[arg(value_name = "USER")]
        args: Vec<String>,
    },
    /// Gets detailed information of a user
    Get {
        /// Show permissions of roles granted to the user
        #[arg(long)]
        detail: bool,
        /// <user name>
        #[arg(value_name = "USER")]
        args: Vec<String>,
    },
    /// Lists all users
    List {
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Changes password of user
    Passwd {
        /// If true, read password from the terminal; --interactive=false reads it from stdin
        #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true,
              default_missing_value = "true", action = ArgAction::Set)]
        interactive: bool,
        /// <user name>
        #[arg(value_name = "USER")]
        args: Vec<String>,
    },
    /// Grants a role to a user
    GrantRole {
        /// <user name> <role name>
        #[arg(value_name = "USER")]
        args: Vec<String>,
    },
    /// Revokes a role from a user
    RevokeRole {
        /// <user name> <role name>
        #[arg(value_name = "USER")]
        args: Vec<String>,
    },
}

/// `role <subcommand>`
#[derive(Subcommand)]
pub(crate) enum RoleCommand {
    /// Adds a new role
    Add {
        /// <role name>
        #[arg(value_name = "ROLE")]
        args: Vec<String>,
    },
    /// Deletes a role
    Delete {
        /// <role name>
        #[arg(value_name = "ROLE")]
        args: Vec<String>,
    },
    /// Gets detailed information of a role
    Get {
        /// <role name>
        #[arg(value_name = "ROLE")]
        args: Vec<String>,
    },
    /// Lists all roles
    List {
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Grants a key to a role: <role name> <permission type: read|write|readwrite> <key> [endkey]
    GrantPermission {
        /// Grant a prefix permission
        #[arg(long)]
        prefix: bool,
        /// Grant a permission of keys that are greater than or equal to the given key
        #[arg(long)]
        from_key: bool,
        /// <role name> <permission type> <key> [endkey]
        #[arg(value_name = "ROLE")]
        args: Vec<String>,
    },
    /// Revokes a key from a role: <role name> <key> [endkey]
    RevokePermission {
        /// Revoke a prefix permission
        #[arg(long)]
        prefix: bool,
        /// Revoke a permission of keys that are greater than or equal to the given key
        #[arg(long)]
        from_key: bool,
        /// <role name> <key> [endkey]
        #[arg(value_name = "ROLE")]
        args: Vec<String>,
    },
}

/// One operation line of a transaction (`put k v`, `get k --prefix`, `del k`), parsed with the
/// same flags as the commands, as etcdctl does.
#[derive(Parser)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub(crate) struct TxnOpLine {
    #[command(subcommand)]
    pub(crate) op: TxnOpCommand,
}

/// The verbs a transaction's operations may use.
#[derive(Subcommand)]
#[command(disable_help_subcommand = true)]
pub(crate) enum TxnOpCommand {
    Get(GetArgs),
    Put(PutArgs),
    Del(DelArgs),
}
