//! The `json` format: what Go's encoding/json makes of the protobuf structs etcdctl prints,
//! byte for byte: snake_case fields in the proto's order, 64-bit integers as numbers, bytes
//! as padded base64, zero fields left out (`omitempty`), one object per line.
//!
//! The clientv3 structs that wrap a header (lease answers) flatten it; those that are not
//! protobuf (watch answers) use Go's field names and keep their zero values.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use etcdgw::{
    AlarmMember, DeleteResponse, DowngradeResponse, Event, GetResponse, KeyValue,
    LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse,
    Member, MemberAddResponse, MemberListResponse, PutResponse, ResponseHeader, RoleGetResponse,
    TxnOpResponse, TxnResponse, WatchResponse,
};

use super::{gofmt, EpHashKv, EpHealth, EpStatus};

/// A JSON object being written, field by field, in order.
struct Obj {
    buf: String,
    first: bool,
}

impl Obj {
    fn new() -> Self {
        Obj {
            buf: String::from("{"),
            first: true,
        }
    }

    fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        gofmt::json_string(&mut self.buf, name);
        self.buf.push(':');
        &mut self.buf
    }

    /// A field whose value is already JSON.
    fn raw(&mut self, name: &str, json: &str) -> &mut Self {
        self.key(name).push_str(json);
        self
    }

    fn num(&mut self, name: &str, value: impl itoa::Integer) -> &mut Self {
        let mut b = itoa::Buffer::new();
        let text = b.format(value).to_string();
        self.raw(name, &text)
    }

    /// An integer with `omitempty`.
    fn num_nz<T: itoa::Integer + Default + PartialEq>(
        &mut self,
        name: &str,
        value: T,
    ) -> &mut Self {
        if value != T::default() {
            self.num(name, value);
        }
        self
    }

    fn boolean(&mut self, name: &str, value: bool) -> &mut Self {
        self.raw(name, if value { "true" } else { "false" })
    }

    /// A bool with `omitempty`.
    fn bool_t(&mut self, name: &str, value: bool) -> &mut Self {
        if value {
            self.raw(name, "true");
        }
        self
    }

    fn string(&mut self, name: &str, value: &str) -> &mut Self {
        gofmt::json_string(self.key(name), value);
        self
    }

    /// A string with `omitempty`.
    fn string_ne(&mut self, name: &str, value: &str) -> &mut Self {
        if !value.is_empty() {
            self.string(name, value);
        }
        self
    }

    /// Bytes (base64) with `omitempty`.
    fn bytes_ne(&mut self, name: &str, value: &[u8]) -> &mut Self {
        if !value.is_empty() {
            let b64 = STANDARD.encode(value);
            self.string(name, &b64);
        }
        self
    }

    /// A list with `omitempty`.
    fn list_ne<T>(&mut self, name: &str, items: &[T], each: impl Fn(&T) -> String) -> &mut Self {
        if !items.is_empty() {
            let list = list(items, each);
            self.raw(name, &list);
        }
        self
    }

    fn finish(&mut self) -> String {
        let mut buf = std::mem::take(&mut self.buf);
        buf.push('}');
        buf
    }
}

fn list<T>(items: &[T], each: impl Fn(&T) -> String) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&each(item));
    }
    out.push(']');
    out
}

fn strings(items: &[String]) -> String {
    list(items, |s| {
        let mut out = String::new();
        gofmt::json_string(&mut out, s);
        out
    })
}

/// One JSON document per line, as etcdctl's `fmt.Println`.
fn line(mut json: String) -> String {
    json.push('\n');
    json
}

/// The header's fields (each `omitempty`), into `o`: nested as `header`, or flattened where
/// clientv3 embeds `*pb.ResponseHeader`.
fn header_fields(o: &mut Obj, h: &ResponseHeader) {
    o.num_nz("cluster_id", h.cluster_id())
        .num_nz("member_id", h.member_id())
        .num_nz("revision", h.revision())
        .num_nz("raft_term", h.raft_term());
}

fn header(h: &ResponseHeader) -> String {
    let mut o = Obj::new();
    header_fields(&mut o, h);
    o.finish()
}

fn with_header(o: &mut Obj, h: Option<&ResponseHeader>) {
    if let Some(h) = h {
        o.raw("header", &header(h));
    }
}

fn kv(kv: &KeyValue) -> String {
    Obj::new()
        .bytes_ne("key", kv.key())
        .num_nz("create_revision", kv.create_revision())
        .num_nz("mod_revision", kv.mod_revision())
        .num_nz("version", kv.version())
        .bytes_ne("value", kv.value())
        .num_nz("lease", kv.lease())
        .finish()
}

pub(super) fn get_parts(
    h: Option<&ResponseHeader>,
    kvs: &[KeyValue],
    more: bool,
    count: i64,
) -> String {
    let mut o = Obj::new();
    with_header(&mut o, h);
    o.list_ne("kvs", kvs, kv)
        .bool_t("more", more)
        .num_nz("count", count);
    line(o.finish())
}

fn get_object(resp: &GetResponse) -> String {
    let mut o = Obj::new();
    with_header(&mut o, resp.header());
    o.list_ne("kvs", resp.kvs(), kv)
        .bool_t("more", resp.more())
        .num_nz("count", resp.count());
    o.finish()
}

pub(super) fn get(resp: &GetResponse) -> String {
    line(get_object(resp))
}

fn put_object(resp: &PutResponse) -> String {
    let mut o = Obj::new();
    with_header(&mut o, resp.header());
    if let Some(prev) = resp.prev_key() {
        o.raw("prev_kv", &kv(prev));
    }
    o.finish()
}

pub(super) fn put(resp: &PutResponse) -> String {
    line(put_object(resp))
}

fn del_object(resp: &DeleteResponse) -> String {
    let mut o = Obj::new();
    with_header(&mut o, resp.header());
    o.num_nz("deleted", resp.deleted())
        .list_ne("prev_kvs", resp.prev_kvs(), kv);
    o.finish()
}

pub(super) fn del(resp: &DeleteResponse) -> String {
    line(del_object(resp))
}

/// A transaction; each answer is `{"Response":{"response_put":{...}}}` (the oneof's Go field
/// and the proto name of its case, as etcdctl 3.5 writes them; 3.4 wrote `ResponsePut`).
fn txn_object(resp: &TxnResponse) -> String {
    let mut o = Obj::new();
    with_header(&mut o, resp.header());
    o.bool_t("succeeded", resp.succeeded());
    o.list_ne("responses", &resp.op_responses(), |op| {
        let (name, inner) = match op {
            TxnOpResponse::Put(r) => ("response_put", put_object(r)),
            TxnOpResponse::Get(r) => ("response_range", get_object(r)),
            TxnOpResponse::Delete(r) => ("response_delete_range", del_object(r)),
            TxnOpResponse::Txn(r) => ("response_txn", txn_object(r)),
        };
        let case = Obj::new().raw(name, &inner).finish();
        Obj::new().raw("Response", &case).finish()
    });
    o.finish()
}

pub(super) fn txn(resp: &TxnResponse) -> String {
    line(txn_object(resp))
}

fn event(e: &Event) -> String {
    let mut o = Obj::new();
    o.num_nz("type", e.event_type() as i32);
    if let Some(k) = e.kv() {
        o.raw("kv", &kv(k));
    }
    if let Some(prev) = e.prev_kv() {
        o.raw("prev_kv", &kv(prev));
    }
    o.finish()
}

/// clientv3's `WatchResponse`, a plain Go struct: Go's field names, zero values kept.
pub(super) fn watch(resp: &WatchResponse) -> String {
    let mut o = Obj::new();
    o.raw(
        "Header",
        &resp.header().map(header).unwrap_or_else(|| "{}".into()),
    );
    if resp.events().is_empty() {
        o.raw("Events", "null");
    } else {
        o.raw("Events", &list(resp.events(), event));
    }
    o.num("CompactRevision", resp.compact_revision())
        .boolean("Canceled", resp.canceled())
        .boolean("Created", resp.created());
    line(o.finish())
}

fn flat_header(o: &mut Obj, h: Option<&ResponseHeader>) {
    if let Some(h) = h {
        header_fields(o, h);
    }
}

pub(super) fn grant(resp: &LeaseGrantResponse) -> String {
    let mut o = Obj::new();
    flat_header(&mut o, resp.header());
    o.num("ID", resp.id())
        .num("TTL", resp.ttl())
        .string("Error", resp.error());
    line(o.finish())
}

pub(super) fn keep_alive(resp: &LeaseKeepAliveResponse) -> String {
    let mut o = Obj::new();
    flat_header(&mut o, resp.header());
    o.num("ID", resp.id()).num("TTL", resp.ttl());
    line(o.finish())
}

pub(super) fn time_to_live(resp: &LeaseTimeToLiveResponse) -> String {
    let mut o = Obj::new();
    flat_header(&mut o, resp.header());
    o.num("id", resp.id())
        .num("ttl", resp.ttl())
        .num("granted-ttl", resp.granted_ttl());
    if resp.keys().is_empty() {
        o.raw("keys", "null");
    } else {
        o.raw(
            "keys",
            &list(resp.keys(), |k| {
                let mut s = String::new();
                gofmt::json_string(&mut s, &STANDARD.encode(k));
                s
            }),
        );
    }
    line(o.finish())
}

pub(super) fn leases(resp: &LeaseLeasesResponse) -> String {
    let mut o = Obj::new();
    flat_header(&mut o, resp.header());
    o.raw(
        "leases",
        &list(resp.leases(), |l| Obj::new().num("id", l.id()).finish()),
    );
    line(o.finish())
}

fn member_object(m: &Member) -> String {
    let mut o = Obj::new();
    o.num_nz("ID", m.id()).string_ne("name", m.name());
    if !m.peer_urls().is_empty() {
        o.raw("peerURLs", &strings(m.peer_urls()));
    }
    if !m.client_urls().is_empty() {
        o.raw("clientURLs", &strings(m.client_urls()));
    }
    o.bool_t("isLearner", m.is_learner());
    o.finish()
}

pub(super) fn member_list(resp: &MemberListResponse) -> String {
    let mut o = Obj::new();
    with_header(&mut o, resp.header());
    o.list_ne("members", resp.members(), member_object);
    line(o.finish())
}

/// `pb.MemberAddResponse`: the header, the new member, then every member.
pub(super) fn member_add(resp: &MemberAddResponse) -> String {
    let mut o = Obj::new();
    with_header(&mut o, resp.header());
    if let Some(m) = resp.member() {
        o.raw("member", &member_object(m));
    }
    o.list_ne("members", resp.member_list(), member_object);
    line(o.finish())
}

/// The answers of member remove, update and promote: the header and the members.
pub(super) fn members(h: Option<&ResponseHeader>, members: &[Member]) -> String {
    let mut o = Obj::new();
    with_header(&mut o, h);
    o.list_ne("members", members, member_object);
    line(o.finish())
}

/// `pb.AlarmResponse`: `alarm` is the enum's number, as encoding/json writes a Go enum.
pub(super) fn alarms(h: Option<&ResponseHeader>, alarms: &[AlarmMember]) -> String {
    let mut o = Obj::new();
    with_header(&mut o, h);
    o.list_ne("alarms", alarms, |a| {
        Obj::new()
            .num_nz("memberID", a.member_id())
            .num_nz("alarm", a.alarm() as i32)
            .finish()
    });
    line(o.finish())
}

/// `[{"Endpoint":..,"HashKV":{header, hash, compact_revision}}]`, as etcdctl 3.5 (3.6 adds
/// `hash_revision`).
pub(super) fn endpoint_hash_kv(list_: &[EpHashKv]) -> String {
    line(list(list_, |ep| {
        let h = &ep.hash;
        let mut inner = Obj::new();
        with_header(&mut inner, h.header());
        inner
            .num_nz("hash", h.hash())
            .num_nz("compact_revision", h.compact_version());
        Obj::new()
            .string("Endpoint", &ep.endpoint)
            .raw("HashKV", &inner.finish())
            .finish()
    }))
}

/// `pb.DowngradeResponse`: the header and the cluster version.
pub(super) fn downgrade(resp: &DowngradeResponse) -> String {
    let mut o = Obj::new();
    with_header(&mut o, resp.header());
    o.string_ne("version", resp.version());
    line(o.finish())
}

/// etcdctl 3.5's `member list -w json --hex`, written by hand there: ids in hex strings, the
/// raft term too (sic), and `clientURLS`.
pub(super) fn member_list_hex(resp: &MemberListResponse) -> String {
    let h = resp.header().cloned().unwrap_or_default();
    let mut out = format!(
        "{{\"header\":{{\"cluster_id\":\"{:x}\",\"member_id\":\"{:x}\",\"raft_term\":{:x}}}",
        h.cluster_id(),
        h.member_id(),
        h.raft_term()
    );
    let members = resp.members();
    for (i, m) in members.iter().enumerate() {
        out.push_str(if i == 0 {
            ",\"members\":[{\"ID\":\""
        } else {
            ",{\"ID\":\""
        });
        out.push_str(&format!("{:x}", m.id()));
        // etcdctl writes the name without escaping it.
        out.push_str(&format!("\",\"name\":\"{}\",\"peerURLs\":", m.name()));
        out.push_str(&strings(m.peer_urls()));
        out.push_str(",\"clientURLS\":");
        out.push_str(&strings(m.client_urls()));
        out.push('}');
        if i == members.len() - 1 {
            out.push(']');
        }
    }
    out.push('}');
    line(out)
}

pub(super) fn endpoint_health(list_: &[EpHealth]) -> String {
    line(list(list_, |h| {
        let took = h.took.map(gofmt::duration).unwrap_or_default();
        Obj::new()
            .string("endpoint", &h.endpoint)
            .boolean("health", h.health)
            .string("took", &took)
            .string_ne("error", &h.error)
            .finish()
    }))
}

pub(super) fn endpoint_status(list_: &[EpStatus]) -> String {
    line(list(list_, |ep| {
        let s = &ep.status;
        let mut st = Obj::new();
        with_header(&mut st, s.header());
        st.string_ne("version", s.version())
            .num_nz("dbSize", s.db_size())
            .num_nz("leader", s.leader())
            .num_nz("raftIndex", s.raft_index())
            .num_nz("raftTerm", s.raft_term())
            .num_nz("raftAppliedIndex", s.raft_applied_index());
        if !s.errors().is_empty() {
            st.raw("errors", &strings(s.errors()));
        }
        st.num_nz("dbSizeInUse", s.raft_used_db_size())
            .bool_t("isLearner", s.is_learner());
        Obj::new()
            .string("Endpoint", &ep.endpoint)
            .raw("Status", &st.finish())
            .finish()
    }))
}

pub(super) fn header_only(h: Option<&ResponseHeader>) -> String {
    let mut o = Obj::new();
    with_header(&mut o, h);
    line(o.finish())
}

pub(super) fn names(h: Option<&ResponseHeader>, field: &str, names: &[String]) -> String {
    let mut o = Obj::new();
    with_header(&mut o, h);
    if !names.is_empty() {
        o.raw(field, &strings(names));
    }
    line(o.finish())
}

pub(super) fn role_get(resp: &RoleGetResponse) -> String {
    let mut o = Obj::new();
    with_header(&mut o, resp.header());
    o.list_ne("perm", &resp.permissions(), |p| {
        Obj::new()
            .num_nz("permType", p.get_type())
            .bytes_ne("key", p.key())
            .bytes_ne("range_end", p.range_end())
            .finish()
    });
    line(o.finish())
}

pub(super) fn auth_status(h: Option<&ResponseHeader>, enabled: bool, revision: u64) -> String {
    let mut o = Obj::new();
    with_header(&mut o, h);
    o.bool_t("enabled", enabled)
        .num_nz("authRevision", revision);
    line(o.finish())
}
