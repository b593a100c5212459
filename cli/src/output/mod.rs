//! The printers: what each answer looks like in each output format, as etcdctl 3.5 prints it.
//!
//! etcdctl has one printer per format (`simple`, `json`, `fields`, `protobuf`, `table`), and a
//! format that lacks a method ends the command with `<format> not supported as output format`
//! (ExitBadFeature). [`Printer::check`] tells that before a command sends anything (etcdctl
//! finds out only after a put or delete is done); each printing method renders an answer into
//! bytes that [`emit`] writes to stdout.

mod fields;
pub(crate) mod gofmt;
mod json;
pub(crate) mod simple;
mod table;

use std::io::Write;
use std::time::Duration;

use etcdgw::{
    AlarmMember, DeleteResponse, DowngradeResponse, GetResponse, HashKvResponse, KeyValue,
    LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse,
    Member, MemberAddResponse, MemberListResponse, PutResponse, ResponseHeader, RoleGetResponse,
    StatusResponse, TxnResponse, WatchResponse,
};

use crate::error::{exit, io_error, CliError, CliResult};

/// An output format (`-w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Simple,
    Json,
    Fields,
    Table,
}

impl Format {
    /// The format `-w` names, or etcdctl's errors: `protobuf` is etcdctl's but needs the
    /// protobuf encoding, which a gateway client does not have.
    pub(crate) fn parse(name: &str) -> CliResult<Format> {
        match name {
            "simple" => Ok(Format::Simple),
            "json" => Ok(Format::Json),
            "fields" => Ok(Format::Fields),
            "table" => Ok(Format::Table),
            "protobuf" => Err(CliError::bad_feature(
                "protobuf not supported as output format (etcdgw speaks JSON to etcd, not protobuf)",
            )),
            _ => Err(CliError::bad_feature("unsupported output format")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Fields => "fields",
            Format::Table => "table",
        }
    }
}

/// What is printed: one variant per method of etcdctl's printer that etcdgw uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Get,
    Put,
    Del,
    Txn,
    Watch,
    Grant,
    Revoke,
    KeepAlive,
    TimeToLive,
    Leases,
    MemberList,
    MemberAdd,
    /// `member remove`, `update` and `promote`: the members after the change.
    MemberChange,
    MoveLeader,
    Alarm,
    EndpointHealth,
    EndpointStatus,
    EndpointHashKv,
    Downgrade,
    AuthStatus,
    UserAdd,
    UserGet,
    UserList,
    UserDelete,
    UserPasswd,
    UserGrantRole,
    UserRevokeRole,
    RoleAdd,
    RoleGet,
    RoleList,
    RoleDelete,
    RoleGrantPermission,
    RoleRevokePermission,
}

/// A member's health, as `endpoint health` reports it.
#[derive(Debug, Clone)]
pub(crate) struct EpHealth {
    pub(crate) endpoint: String,
    pub(crate) health: bool,
    pub(crate) took: Option<Duration>,
    pub(crate) error: String,
}

/// A member's KV hash, as `endpoint hashkv` reports it.
#[derive(Debug)]
pub(crate) struct EpHashKv {
    pub(crate) endpoint: String,
    pub(crate) hash: HashKvResponse,
}

/// What `member remove`, `update` and `promote` print: the verb of etcdctl's sentence, the
/// member and the answer's header and members.
#[derive(Debug)]
pub(crate) struct MemberChange<'a> {
    pub(crate) verb: &'static str,
    pub(crate) id: u64,
    pub(crate) header: Option<&'a ResponseHeader>,
    pub(crate) members: &'a [Member],
}

/// A member's status, as `endpoint status` reports it.
#[derive(Debug)]
pub(crate) struct EpStatus {
    pub(crate) endpoint: String,
    pub(crate) status: StatusResponse,
}

/// The printer of one command: its format and etcdctl's `--hex` and `--print-value-only`.
#[derive(Debug, Clone)]
pub(crate) struct Printer {
    pub(crate) format: Format,
    pub(crate) hex: bool,
    pub(crate) value_only: bool,
}

impl Printer {
    pub(crate) fn new(format: Format, hex: bool) -> Self {
        Printer {
            format,
            hex,
            value_only: false,
        }
    }

    /// Whether this format can print `kind`, as etcdctl's printers can.
    pub(crate) fn supports(&self, kind: Kind) -> bool {
        match self.format {
            Format::Simple | Format::Json => true,
            Format::Table => matches!(
                kind,
                Kind::MemberList
                    | Kind::EndpointHealth
                    | Kind::EndpointStatus
                    | Kind::EndpointHashKv
            ),
            Format::Fields => !matches!(
                kind,
                Kind::UserGet
                    | Kind::UserList
                    | Kind::AuthStatus
                    | Kind::MemberAdd
                    | Kind::MemberChange
                    | Kind::MoveLeader
                    | Kind::Downgrade
            ),
        }
    }

    /// etcdctl's error for a format without this kind of answer.
    pub(crate) fn check(&self, kind: Kind) -> CliResult {
        if self.supports(kind) {
            Ok(())
        } else {
            Err(CliError::new(
                exit::BAD_FEATURE,
                format!("{} not supported as output format", self.format.name()),
            ))
        }
    }

    pub(crate) fn get(&self, resp: &GetResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::Get)?;
        Ok(match self.format {
            Format::Json => json::get(resp).into_bytes(),
            Format::Fields => fields::get(resp).into_bytes(),
            _ => simple::kvs(self, resp.kvs()),
        })
    }

    /// An election's leader, printed as etcdctl prints the answer of its `Get` (the key and
    /// its value).
    pub(crate) fn leader(
        &self,
        header: Option<&ResponseHeader>,
        kv: Option<&KeyValue>,
    ) -> CliResult<Vec<u8>> {
        self.check(Kind::Get)?;
        let kvs: Vec<KeyValue> = kv.cloned().into_iter().collect();
        Ok(match self.format {
            Format::Json => json::get_parts(header, &kvs, false, kvs.len() as i64).into_bytes(),
            Format::Fields => fields::get_parts(header, &kvs, false, kvs.len() as i64).into_bytes(),
            _ => simple::kvs(self, &kvs),
        })
    }

    pub(crate) fn put(&self, resp: &PutResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::Put)?;
        Ok(match self.format {
            Format::Json => json::put(resp).into_bytes(),
            Format::Fields => fields::put(resp).into_bytes(),
            _ => simple::put(self, resp),
        })
    }

    pub(crate) fn del(&self, resp: &DeleteResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::Del)?;
        Ok(match self.format {
            Format::Json => json::del(resp).into_bytes(),
            Format::Fields => fields::del(resp).into_bytes(),
            _ => simple::del(self, resp),
        })
    }

    pub(crate) fn txn(&self, resp: &TxnResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::Txn)?;
        Ok(match self.format {
            Format::Json => json::txn(resp).into_bytes(),
            Format::Fields => fields::txn(resp).into_bytes(),
            _ => simple::txn(self, resp),
        })
    }

    pub(crate) fn watch(&self, resp: &WatchResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::Watch)?;
        Ok(match self.format {
            Format::Json => json::watch(resp).into_bytes(),
            Format::Fields => fields::watch(resp).into_bytes(),
            _ => simple::watch(self, resp),
        })
    }

    pub(crate) fn grant(&self, resp: &LeaseGrantResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::Grant)?;
        Ok(match self.format {
            Format::Json => json::grant(resp),
            Format::Fields => fields::grant(resp),
            _ => format!(
                "lease {:016x} granted with TTL({}s)\n",
                resp.id(),
                resp.ttl()
            ),
        }
        .into_bytes())
    }

    pub(crate) fn keep_alive(&self, resp: &LeaseKeepAliveResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::KeepAlive)?;
        Ok(match self.format {
            Format::Json => json::keep_alive(resp),
            Format::Fields => fields::keep_alive(resp),
            _ => format!(
                "lease {:016x} keepalived with TTL({})\n",
                resp.id(),
                resp.ttl()
            ),
        }
        .into_bytes())
    }

    pub(crate) fn time_to_live(
        &self,
        resp: &LeaseTimeToLiveResponse,
        keys: bool,
    ) -> CliResult<Vec<u8>> {
        self.check(Kind::TimeToLive)?;
        Ok(match self.format {
            Format::Json => json::time_to_live(resp).into_bytes(),
            Format::Fields => fields::time_to_live(resp).into_bytes(),
            _ => simple::time_to_live(resp, keys),
        })
    }

    pub(crate) fn leases(&self, resp: &LeaseLeasesResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::Leases)?;
        Ok(match self.format {
            Format::Json => json::leases(resp),
            Format::Fields => fields::leases(resp),
            _ => simple::leases(resp),
        }
        .into_bytes())
    }

    pub(crate) fn member_list(&self, resp: &MemberListResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::MemberList)?;
        Ok(match self.format {
            Format::Json if self.hex => json::member_list_hex(resp),
            Format::Json => json::member_list(resp),
            Format::Fields => fields::member_list(resp),
            Format::Table => table::member_list(resp),
            Format::Simple => simple::member_list(resp),
        }
        .into_bytes())
    }

    /// `member add`: etcdctl's sentence and, in the simple format, the `ETCD_*` settings the
    /// new member (`name`, at `peer_urls` as given) starts with.
    pub(crate) fn member_add(
        &self,
        resp: &MemberAddResponse,
        name: &str,
        peer_urls: &str,
    ) -> CliResult<Vec<u8>> {
        self.check(Kind::MemberAdd)?;
        Ok(match self.format {
            Format::Json => json::member_add(resp),
            _ => simple::member_add(resp, name, peer_urls),
        }
        .into_bytes())
    }

    pub(crate) fn member_change(&self, change: &MemberChange<'_>) -> CliResult<Vec<u8>> {
        self.check(Kind::MemberChange)?;
        Ok(match self.format {
            Format::Json => json::members(change.header, change.members),
            _ => format!(
                "Member {:16x} {} cluster {:16x}\n",
                change.id,
                change.verb,
                change.header.map(|h| h.cluster_id()).unwrap_or_default()
            ),
        }
        .into_bytes())
    }

    /// `move-leader`: the answer's header in JSON, etcdctl's sentence otherwise.
    pub(crate) fn move_leader(
        &self,
        header: Option<&ResponseHeader>,
        from: u64,
        to: u64,
    ) -> CliResult<Vec<u8>> {
        self.check(Kind::MoveLeader)?;
        Ok(match self.format {
            Format::Json => json::header_only(header),
            _ => format!("Leadership transferred from {from:x} to {to:x}\n"),
        }
        .into_bytes())
    }

    /// `alarm list` and `alarm disarm` (whose answer, gathered from one disarm per alarm as
    /// clientv3 does it, has no header).
    pub(crate) fn alarms(
        &self,
        header: Option<&ResponseHeader>,
        alarms: &[AlarmMember],
    ) -> CliResult<Vec<u8>> {
        self.check(Kind::Alarm)?;
        Ok(match self.format {
            Format::Json => json::alarms(header, alarms),
            Format::Fields => fields::alarms(header, alarms, self.hex),
            _ => simple::alarms(alarms),
        }
        .into_bytes())
    }

    pub(crate) fn endpoint_hash_kv(&self, list: &[EpHashKv]) -> CliResult<Vec<u8>> {
        self.check(Kind::EndpointHashKv)?;
        Ok(match self.format {
            Format::Json => json::endpoint_hash_kv(list),
            Format::Fields => fields::endpoint_hash_kv(list),
            Format::Table => table::endpoint_hash_kv(list),
            Format::Simple => simple::endpoint_hash_kv(list),
        }
        .into_bytes())
    }

    /// `downgrade validate|enable|cancel` (`action` is etcdctl's word for it).
    pub(crate) fn downgrade(&self, action: &str, resp: &DowngradeResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::Downgrade)?;
        Ok(match self.format {
            Format::Json => json::downgrade(resp),
            _ => format!(
                "Downgrade {action} success, cluster version {}\n",
                resp.version()
            ),
        }
        .into_bytes())
    }

    /// Returns what goes to stdout and what goes to stderr (etcdctl 3.5 prints healthy
    /// endpoints to stdout and unhealthy ones to stderr).
    pub(crate) fn endpoint_health(&self, list: &[EpHealth]) -> CliResult<(Vec<u8>, Vec<u8>)> {
        self.check(Kind::EndpointHealth)?;
        Ok(match self.format {
            Format::Json => (json::endpoint_health(list).into_bytes(), Vec::new()),
            Format::Fields => (fields::endpoint_health(list).into_bytes(), Vec::new()),
            Format::Table => (table::endpoint_health(list).into_bytes(), Vec::new()),
            Format::Simple => simple::endpoint_health(list),
        })
    }

    pub(crate) fn endpoint_status(&self, list: &[EpStatus]) -> CliResult<Vec<u8>> {
        self.check(Kind::EndpointStatus)?;
        Ok(match self.format {
            Format::Json => json::endpoint_status(list),
            Format::Fields => fields::endpoint_status(list),
            Format::Table => table::endpoint_status(list),
            Format::Simple => simple::endpoint_status(list),
        }
        .into_bytes())
    }

    /// An answer that is only a header (most auth calls, lease revoke): `text` in the simple
    /// format, the header in the others.
    pub(crate) fn header_only(
        &self,
        kind: Kind,
        header: Option<&ResponseHeader>,
        text: String,
    ) -> CliResult<Vec<u8>> {
        self.check(kind)?;
        Ok(match self.format {
            Format::Json => json::header_only(header),
            Format::Fields => fields::header(header),
            _ => text,
        }
        .into_bytes())
    }

    /// A list of names (`user list`, `role list`, `user get`'s roles).
    pub(crate) fn names(
        &self,
        kind: Kind,
        header: Option<&ResponseHeader>,
        field: &str,
        names: &[String],
        text: String,
    ) -> CliResult<Vec<u8>> {
        self.check(kind)?;
        Ok(match self.format {
            Format::Json => json::names(header, field, names),
            Format::Fields => fields::role_list(header, names),
            _ => text,
        }
        .into_bytes())
    }

    pub(crate) fn role_get(&self, role: &str, resp: &RoleGetResponse) -> CliResult<Vec<u8>> {
        self.check(Kind::RoleGet)?;
        Ok(match self.format {
            Format::Json => json::role_get(resp).into_bytes(),
            Format::Fields => fields::role_get(resp).into_bytes(),
            _ => simple::role_get(role, resp),
        })
    }

    pub(crate) fn auth_status(
        &self,
        header: Option<&ResponseHeader>,
        enabled: bool,
        revision: u64,
    ) -> CliResult<Vec<u8>> {
        self.check(Kind::AuthStatus)?;
        Ok(match self.format {
            Format::Json => json::auth_status(header, enabled, revision),
            _ => format!("Authentication Status: {enabled}\nAuthRevision: {revision}\n"),
        }
        .into_bytes())
    }
}

/// Writes to stdout and flushes (so a watch's events show at once, even through a pipe).
pub(crate) fn emit(bytes: &[u8]) -> CliResult {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // The reader went away (`| head`): stop quietly.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(CliError::silent(exit::IO)),
        Err(e) => Err(io_error("cannot write to stdout", &e)),
    }
}

/// Writes one line to stderr, ignoring failures (there is nowhere else to report them).
pub(crate) fn warn(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// Writes bytes to stderr, ignoring failures.
pub(crate) fn warn_bytes(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes);
    let _ = err.flush();
}
