//! The `simple` format (etcdctl's `printer_simple.go`): keys and values as raw bytes, one per
//! line, and short sentences for the rest.

use std::fmt::Write as _;

use etcdgw::{
    AlarmMember, DeleteResponse, KeyValue, LeaseLeasesResponse, LeaseTimeToLiveResponse,
    MemberAddResponse, MemberListResponse, PermissionType, PutResponse, RoleGetResponse,
    TxnOpResponse, TxnResponse, WatchResponse,
};

use super::{gofmt, table, EpHashKv, EpHealth, EpStatus, Printer};

/// etcdctl's `printKV`: the key (unless value-only) and the value, each on its own line, raw
/// or in `\x` hex.
fn kv(p: &Printer, out: &mut Vec<u8>, kv: &KeyValue) {
    if p.hex {
        if !p.value_only {
            out.extend_from_slice(gofmt::hex_prefixed(kv.key()).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(gofmt::hex_prefixed(kv.value()).as_bytes());
    } else {
        if !p.value_only {
            out.extend_from_slice(kv.key());
            out.push(b'\n');
        }
        out.extend_from_slice(kv.value());
    }
    out.push(b'\n');
}

pub(super) fn kvs(p: &Printer, list: &[KeyValue]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in list {
        kv(p, &mut out, item);
    }
    out
}

pub(super) fn put(p: &Printer, resp: &PutResponse) -> Vec<u8> {
    let mut out = b"OK\n".to_vec();
    if let Some(prev) = resp.prev_key() {
        kv(p, &mut out, prev);
    }
    out
}

pub(super) fn del(p: &Printer, resp: &DeleteResponse) -> Vec<u8> {
    let mut out = format!("{}\n", resp.deleted()).into_bytes();
    for prev in resp.prev_kvs() {
        kv(p, &mut out, prev);
    }
    out
}

pub(super) fn txn(p: &Printer, resp: &TxnResponse) -> Vec<u8> {
    let mut out = if resp.succeeded() {
        b"SUCCESS\n".to_vec()
    } else {
        b"FAILURE\n".to_vec()
    };
    for op in resp.op_responses() {
        out.push(b'\n');
        match op {
            TxnOpResponse::Delete(r) => out.extend(del(p, &r)),
            TxnOpResponse::Put(r) => out.extend(put(p, &r)),
            TxnOpResponse::Get(r) => out.extend(kvs(p, r.kvs())),
            // etcdctl's syntax has no nested transaction; print what etcdctl would.
            TxnOpResponse::Txn(r) => out.extend(txn(p, &r)),
        }
    }
    out
}

pub(super) fn watch(p: &Printer, resp: &WatchResponse) -> Vec<u8> {
    let mut out = Vec::new();
    for event in resp.events() {
        out.extend_from_slice(event.event_type().as_str_name().as_bytes());
        out.push(b'\n');
        if let Some(prev) = event.prev_kv() {
            kv(p, &mut out, prev);
        }
        kv(p, &mut out, event.kv().unwrap_or(&KeyValue::default()));
    }
    out
}

pub(super) fn time_to_live(resp: &LeaseTimeToLiveResponse, keys: bool) -> Vec<u8> {
    if resp.granted_ttl() == 0 && resp.ttl() == -1 {
        return format!("lease {:016x} already expired\n", resp.id()).into_bytes();
    }
    let mut out = format!(
        "lease {:016x} granted with TTL({}s), remaining({}s)",
        resp.id(),
        resp.granted_ttl(),
        resp.ttl()
    )
    .into_bytes();
    if keys {
        // Go's `%v` of a []string: `[a b]`, the keys' raw bytes.
        out.extend_from_slice(b", attached keys([");
        for (i, key) in resp.keys().iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(key);
        }
        out.extend_from_slice(b"])");
    }
    out.push(b'\n');
    out
}

pub(super) fn leases(resp: &LeaseLeasesResponse) -> String {
    let mut out = format!("found {} leases\n", resp.leases().len());
    for lease in resp.leases() {
        let _ = writeln!(out, "{:016x}", lease.id());
    }
    out
}

pub(super) fn member_list(resp: &MemberListResponse) -> String {
    let mut out = String::new();
    for row in table::member_rows(resp) {
        out.push_str(&row.join(", "));
        out.push('\n');
    }
    out
}

/// etcdctl 3.5's `member add`: the sentence, a blank line and the `ETCD_*` settings, the
/// cluster listing every member's peer URLs under its name (the new one's as given).
pub(super) fn member_add(resp: &MemberAddResponse, name: &str, peer_urls: &str) -> String {
    let new_id = resp.member().map(|m| m.id()).unwrap_or_default();
    let cluster = resp.header().map(|h| h.cluster_id()).unwrap_or_default();
    let mut out = format!("Member {new_id:16x} added to cluster {cluster:16x}\n");
    let mut conf = Vec::new();
    for m in resp.member_list() {
        let member_name = if m.id() == new_id { name } else { m.name() };
        for url in m.peer_urls() {
            conf.push(format!("{member_name}={url}"));
        }
    }
    out.push('\n');
    let _ = writeln!(out, "ETCD_NAME={}", gofmt::quote(name.as_bytes()));
    let _ = writeln!(
        out,
        "ETCD_INITIAL_CLUSTER={}",
        gofmt::quote(conf.join(",").as_bytes())
    );
    let _ = writeln!(
        out,
        "ETCD_INITIAL_ADVERTISE_PEER_URLS={}",
        gofmt::quote(peer_urls.as_bytes())
    );
    out.push_str("ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n");
    out
}

/// Each alarm as Go's `%+v` of the protobuf message prints it (its compact text form:
/// `memberID:<id> alarm:NOSPACE `, trailing space included).
pub(super) fn alarms(alarms: &[AlarmMember]) -> String {
    let mut out = String::new();
    for a in alarms {
        if a.member_id() != 0 {
            let _ = write!(out, "memberID:{} ", a.member_id());
        }
        if a.alarm() != etcdgw::AlarmType::None {
            let _ = write!(out, "alarm:{} ", a.alarm().as_str_name());
        }
        out.push('\n');
    }
    out
}

pub(super) fn endpoint_hash_kv(list: &[EpHashKv]) -> String {
    let mut out = String::new();
    for row in table::hash_kv_rows(list) {
        out.push_str(&row.join(", "));
        out.push('\n');
    }
    out
}

pub(super) fn endpoint_health(list: &[EpHealth]) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (String::new(), String::new());
    for h in list {
        if h.error.is_empty() {
            let took = h.took.map(gofmt::duration).unwrap_or_default();
            let _ = writeln!(
                out,
                "{} is healthy: successfully committed proposal: took = {took}",
                h.endpoint
            );
        } else {
            let _ = writeln!(
                err,
                "{} is unhealthy: failed to commit proposal: {}",
                h.endpoint, h.error
            );
        }
    }
    (out.into_bytes(), err.into_bytes())
}

pub(super) fn endpoint_status(list: &[EpStatus]) -> String {
    let mut out = String::new();
    for row in table::status_rows(list) {
        out.push_str(&row.join(", "));
        out.push('\n');
    }
    out
}

/// etcdctl's `RoleGet`: the read, then the write permissions, one per line, as a key, a range
/// `[key, end)`, or an open range `[key, <open ended>`, with ` (prefix key)` for prefixes.
pub(super) fn role_get(role: &str, resp: &RoleGetResponse) -> Vec<u8> {
    let mut out = format!("Role {role}\nKV Read:\n").into_bytes();
    let perms = resp.permissions();
    let print = |out: &mut Vec<u8>, wanted: PermissionType| {
        for perm in &perms {
            let t = perm.perm_type();
            if t != wanted && t != PermissionType::Readwrite {
                continue;
            }
            let key = perm.key();
            let end = perm.range_end();
            out.push(b'\t');
            if end.is_empty() {
                out.extend_from_slice(key);
            } else {
                out.push(b'[');
                out.extend_from_slice(key);
                if end != [0] {
                    out.extend_from_slice(b", ");
                    out.extend_from_slice(end);
                    out.push(b')');
                } else {
                    out.extend_from_slice(b", <open ended>");
                }
                if prefix_range_end(key) == end {
                    out.extend_from_slice(b" (prefix ");
                    out.extend_from_slice(key);
                    out.push(b')');
                }
            }
            out.push(b'\n');
        }
    };
    print(&mut out, PermissionType::Read);
    out.extend_from_slice(b"KV Write:\n");
    print(&mut out, PermissionType::Write);
    out
}

/// clientv3's `GetPrefixRangeEnd`: the prefix with its last byte below 0xff incremented, or
/// `"\0"` when every byte is 0xff.
pub(crate) fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|&b| b < 0xff) {
        Some(i) => {
            let mut end = prefix[..=i].to_vec();
            end[i] += 1;
            end
        }
        None => vec![0],
    }
}
