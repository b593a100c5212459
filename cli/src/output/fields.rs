//! The `fields` format (etcdctl's `printer_fields.go`): one `"Name" : value` per line, strings
//! quoted as Go's `%q`.

use std::fmt::Write as _;

use etcdgw::{
    AlarmMember, DeleteResponse, GetResponse, KeyValue, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseTimeToLiveResponse, MemberListResponse, PutResponse, ResponseHeader,
    RoleGetResponse, TxnOpResponse, TxnResponse, WatchResponse,
};

use super::gofmt::{self, quote};
use super::{EpHashKv, EpHealth, EpStatus};

fn kv(out: &mut String, prefix: &str, kv: &KeyValue) {
    let _ = writeln!(out, "\"{prefix}Key\" : {}", quote(kv.key()));
    let _ = writeln!(out, "\"{prefix}CreateRevision\" : {}", kv.create_revision());
    let _ = writeln!(out, "\"{prefix}ModRevision\" : {}", kv.mod_revision());
    let _ = writeln!(out, "\"{prefix}Version\" : {}", kv.version());
    let _ = writeln!(out, "\"{prefix}Value\" : {}", quote(kv.value()));
    let _ = writeln!(out, "\"{prefix}Lease\" : {}", kv.lease());
}

fn hdr(out: &mut String, h: Option<&ResponseHeader>) {
    let h = h.cloned().unwrap_or_default();
    let _ = writeln!(out, "\"ClusterID\" : {}", h.cluster_id());
    let _ = writeln!(out, "\"MemberID\" : {}", h.member_id());
    let _ = writeln!(out, "\"Revision\" : {}", h.revision());
    let _ = writeln!(out, "\"RaftTerm\" : {}", h.raft_term());
}

pub(super) fn header(h: Option<&ResponseHeader>) -> String {
    let mut out = String::new();
    hdr(&mut out, h);
    out
}

pub(super) fn get_parts(
    h: Option<&ResponseHeader>,
    kvs: &[KeyValue],
    more: bool,
    count: i64,
) -> String {
    let mut out = String::new();
    hdr(&mut out, h);
    for item in kvs {
        kv(&mut out, "", item);
    }
    let _ = writeln!(out, "\"More\" : {more}");
    let _ = writeln!(out, "\"Count\" : {count}");
    out
}

pub(super) fn get(resp: &GetResponse) -> String {
    get_parts(resp.header(), resp.kvs(), resp.more(), resp.count())
}

fn put_into(out: &mut String, resp: &PutResponse) {
    hdr(out, resp.header());
    if let Some(prev) = resp.prev_key() {
        kv(out, "Prev", prev);
    }
}

pub(super) fn put(resp: &PutResponse) -> String {
    let mut out = String::new();
    put_into(&mut out, resp);
    out
}

fn del_into(out: &mut String, resp: &DeleteResponse) {
    hdr(out, resp.header());
    let _ = writeln!(out, "\"Deleted\" : {}", resp.deleted());
    for prev in resp.prev_kvs() {
        kv(out, "Prev", prev);
    }
}

pub(super) fn del(resp: &DeleteResponse) -> String {
    let mut out = String::new();
    del_into(&mut out, resp);
    out
}

pub(super) fn txn(resp: &TxnResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, resp.header());
    let _ = writeln!(out, "\"Succeeded\" : {}", resp.succeeded());
    for op in resp.op_responses() {
        match op {
            TxnOpResponse::Delete(r) => del_into(&mut out, &r),
            TxnOpResponse::Put(r) => put_into(&mut out, &r),
            TxnOpResponse::Get(r) => out.push_str(&get(&r)),
            TxnOpResponse::Txn(r) => out.push_str(&txn(&r)),
        }
    }
    out
}

pub(super) fn watch(resp: &WatchResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, resp.header());
    for event in resp.events() {
        let _ = writeln!(out, "\"Type\" : {}", event.event_type().as_str_name());
        if let Some(prev) = event.prev_kv() {
            kv(&mut out, "Prev", prev);
        }
        kv(&mut out, "", event.kv().unwrap_or(&KeyValue::default()));
    }
    out
}

pub(super) fn grant(resp: &LeaseGrantResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, resp.header());
    let _ = writeln!(out, "\"ID\" : {}", resp.id());
    let _ = writeln!(out, "\"TTL\" : {}", resp.ttl());
    out
}

pub(super) fn keep_alive(resp: &LeaseKeepAliveResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, resp.header());
    let _ = writeln!(out, "\"ID\" : {}", resp.id());
    let _ = writeln!(out, "\"TTL\" : {}", resp.ttl());
    out
}

pub(super) fn time_to_live(resp: &LeaseTimeToLiveResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, resp.header());
    let _ = writeln!(out, "\"ID\" : {}", resp.id());
    let _ = writeln!(out, "\"TTL\" : {}", resp.ttl());
    let _ = writeln!(out, "\"GrantedTTL\" : {}", resp.granted_ttl());
    for key in resp.keys() {
        let _ = writeln!(out, "\"Key\" : {}", quote(key));
    }
    out
}

pub(super) fn leases(resp: &LeaseLeasesResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, resp.header());
    for lease in resp.leases() {
        let _ = writeln!(out, "\"ID\" : {}", lease.id());
    }
    out
}

pub(super) fn member_list(resp: &MemberListResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, resp.header());
    for m in resp.members() {
        let _ = writeln!(out, "\"ID\" : {}", m.id());
        let _ = writeln!(out, "\"Name\" : {}", quote(m.name().as_bytes()));
        for url in m.peer_urls() {
            let _ = writeln!(out, "\"PeerURL\" : {}", quote(url.as_bytes()));
        }
        for url in m.client_urls() {
            let _ = writeln!(out, "\"ClientURL\" : {}", quote(url.as_bytes()));
        }
        let _ = writeln!(out, "\"IsLearner\" : {}", m.is_learner());
        out.push('\n');
    }
    out
}

pub(super) fn endpoint_health(list: &[EpHealth]) -> String {
    let mut out = String::new();
    for h in list {
        let took = h.took.map(gofmt::duration).unwrap_or_default();
        let _ = writeln!(out, "\"Endpoint\" : {}", quote(h.endpoint.as_bytes()));
        let _ = writeln!(out, "\"Health\" : {}", h.health);
        let _ = writeln!(out, "\"Took\" : {took}");
        let _ = writeln!(out, "\"Error\" : {}", h.error);
        out.push('\n');
    }
    out
}

pub(super) fn endpoint_status(list: &[EpStatus]) -> String {
    let mut out = String::new();
    for ep in list {
        let s = &ep.status;
        hdr(&mut out, s.header());
        let _ = writeln!(out, "\"Version\" : {}", quote(s.version().as_bytes()));
        let _ = writeln!(out, "\"DBSize\" : {}", s.db_size());
        let _ = writeln!(out, "\"Leader\" : {}", s.leader());
        let _ = writeln!(out, "\"IsLearner\" : {}", s.is_learner());
        let _ = writeln!(out, "\"RaftIndex\" : {}", s.raft_index());
        let _ = writeln!(out, "\"RaftTerm\" : {}", s.raft_term());
        let _ = writeln!(out, "\"RaftAppliedIndex\" : {}", s.raft_applied_index());
        // Go's `%v` of a []string.
        let _ = writeln!(out, "\"Errors\" : [{}]", s.errors().join(" "));
        let _ = writeln!(out, "\"Endpoint\" : {}", quote(ep.endpoint.as_bytes()));
        out.push('\n');
    }
    out
}

pub(super) fn role_get(resp: &RoleGetResponse) -> String {
    let mut out = String::new();
    hdr(&mut out, resp.header());
    for p in resp.permissions() {
        // Two spaces after the colon, as etcdctl's `Println` of a string ending in a space.
        let _ = writeln!(out, "\"PermType\" :  {}", p.perm_type().as_str_name());
        let _ = writeln!(out, "\"Key\" : {}", quote(p.key()));
        let _ = writeln!(out, "\"RangeEnd\" : {}", quote(p.range_end()));
    }
    out
}

pub(super) fn role_list(h: Option<&ResponseHeader>, roles: &[String]) -> String {
    let mut out = String::new();
    hdr(&mut out, h);
    out.push_str("\"Roles\" :");
    for role in roles {
        out.push(' ');
        out.push_str(&quote(role.as_bytes()));
    }
    out.push('\n');
    out
}

/// `alarm list|disarm -w fields`; with `--hex`, member IDs in hex (etcdctl 3.6). Where
/// etcdctl crashes on a header-less disarm answer, the header prints as zeros.
pub(super) fn alarms(h: Option<&ResponseHeader>, alarms: &[AlarmMember], hex: bool) -> String {
    let mut out = String::new();
    hdr(&mut out, h);
    for a in alarms {
        if hex {
            let _ = writeln!(out, "\"MemberID\" : {:x}", a.member_id());
        } else {
            let _ = writeln!(out, "\"MemberID\" : {}", a.member_id());
        }
        let _ = writeln!(out, "\"AlarmType\" : {}", a.alarm().as_str_name());
        out.push('\n');
    }
    out
}

pub(super) fn endpoint_hash_kv(list: &[EpHashKv]) -> String {
    let mut out = String::new();
    for ep in list {
        hdr(&mut out, ep.hash.header());
        let _ = writeln!(out, "\"Endpoint\" : {}", quote(ep.endpoint.as_bytes()));
        let _ = writeln!(out, "\"Hash\" : {}", ep.hash.hash());
        out.push('\n');
    }
    out
}
