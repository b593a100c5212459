//! The Cluster service: list, add (also as a learner), remove, update and promote members.
//!
//! `member_update` on a learner silently clears its learner flag on 3.4 and 3.5 while raft
//! still treats it as a learner (etcd issue 21694, GATEWAY.md pitfall 26): update voting
//! members only.

use super::ResponseHeader;
use crate::error::{Error, Result};
use crate::transport::{Idempotency, Transport};
use crate::wire::cluster as w;
use crate::wire::codec::U64;
use crate::wire::paths;

/// The Cluster service of a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct ClusterClient {
    transport: Transport,
}

impl ClusterClient {
    pub(crate) fn new(transport: Transport) -> Self {
        ClusterClient { transport }
    }

    /// Adds a member with these peer URLs (as given), as a voting member or, with
    /// [`MemberAddOptions::with_is_learner`], as a learner.
    ///
    /// # Errors
    /// [`PeerUrlExist`](crate::ServerErrorKind::PeerUrlExist),
    /// [`MemberBadUrls`](crate::ServerErrorKind::MemberBadUrls),
    /// [`TooManyLearners`](crate::ServerErrorKind::TooManyLearners).
    pub async fn member_add(
        &self,
        urls: impl Into<Vec<String>>,
        options: Option<MemberAddOptions>,
    ) -> Result<MemberAddResponse> {
        let peer_urls = urls.into();
        if peer_urls.is_empty() {
            return Err(Error::invalid("a member needs at least one peer URL"));
        }
        let request = w::MemberAddRequest {
            peer_urls,
            is_learner: options.unwrap_or_default().is_learner,
        };
        let reply: w::MemberAddResponse = self
            .transport
            .call(paths::MEMBER_ADD, &request, Idempotency::Write)
            .await?;
        Ok(MemberAddResponse {
            header: Some(ResponseHeader(reply.header)),
            member: reply.member.map(Member),
            members: reply.members.into_iter().map(Member).collect(),
        })
    }

    /// Removes a member.
    ///
    /// # Errors
    /// [`MemberNotFound`](crate::ServerErrorKind::MemberNotFound).
    pub async fn member_remove(&self, id: u64) -> Result<MemberRemoveResponse> {
        self.members_call(
            paths::MEMBER_REMOVE,
            &w::MemberIdRequest { id: U64(id) },
            Idempotency::Write,
        )
        .await
        .map(MemberRemoveResponse)
    }

    /// Changes a member's peer URLs. Do not use it on a learner (see the module docs).
    pub async fn member_update(
        &self,
        id: u64,
        urls: impl Into<Vec<String>>,
    ) -> Result<MemberUpdateResponse> {
        let request = w::MemberUpdateRequest {
            id: U64(id),
            peer_urls: urls.into(),
        };
        self.members_call(paths::MEMBER_UPDATE, &request, Idempotency::Write)
            .await
            .map(MemberUpdateResponse)
    }

    /// Lists the members, as the answering member knows them (as etcd-client's `member_list`,
    /// which works without quorum); [`member_list_with`](Self::member_list_with) and
    /// [`MemberListOptions::with_linearizable`] ask for the leader's view instead.
    pub async fn member_list(&self) -> Result<MemberListResponse> {
        self.member_list_with(None).await
    }

    /// Lists the members: the answering member's view by default, the leader's (linearizable,
    /// etcd 3.5 and later; 3.4 always answers from its local view) with
    /// [`MemberListOptions::with_linearizable`].
    pub async fn member_list_with(
        &self,
        options: Option<MemberListOptions>,
    ) -> Result<MemberListResponse> {
        let request = w::MemberListRequest {
            linearizable: options.unwrap_or_default().linearizable,
        };
        self.members_call(paths::MEMBER_LIST, &request, Idempotency::Read)
            .await
            .map(MemberListResponse)
    }

    /// Promotes a learner that has caught up with the leader to a voting member.
    ///
    /// # Errors
    /// [`MemberNotLearner`](crate::ServerErrorKind::MemberNotLearner),
    /// [`LearnerNotReady`](crate::ServerErrorKind::LearnerNotReady).
    pub async fn member_promote(&self, id: u64) -> Result<MemberPromoteResponse> {
        self.members_call(
            paths::MEMBER_PROMOTE,
            &w::MemberIdRequest { id: U64(id) },
            Idempotency::Write,
        )
        .await
        .map(MemberPromoteResponse)
    }

    async fn members_call<Req: serde::Serialize>(
        &self,
        path: &'static str,
        request: &Req,
        idempotency: Idempotency,
    ) -> Result<Members> {
        let reply: w::MembersResponse = self.transport.call(path, request, idempotency).await?;
        Ok(Members {
            header: Some(ResponseHeader(reply.header)),
            members: reply.members.into_iter().map(Member).collect(),
        })
    }
}

/// Options for [`ClusterClient::member_add`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct MemberAddOptions {
    is_learner: bool,
}

impl MemberAddOptions {
    /// A voting member.
    pub const fn new() -> Self {
        MemberAddOptions { is_learner: false }
    }

    /// A learner: it receives the log but does not vote until promoted.
    pub const fn with_is_learner(mut self) -> Self {
        self.is_learner = true;
        self
    }
}

/// Options for [`ClusterClient::member_list_with`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct MemberListOptions {
    linearizable: bool,
}

impl MemberListOptions {
    /// The answering member's view, as etcd-client's `member_list`.
    pub const fn new() -> Self {
        MemberListOptions {
            linearizable: false,
        }
    }

    /// The leader's view: a linearizable listing, which needs quorum (etcd 3.5 and later).
    pub const fn with_linearizable(mut self) -> Self {
        self.linearizable = true;
        self
    }

    /// The answering member's local view (the default; kept for code written for it).
    pub const fn with_serializable(mut self) -> Self {
        self.linearizable = false;
        self
    }
}

/// A member of the cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct Member(w::Member);

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl Member {
    /// The member's id.
    pub const fn id(&self) -> u64 {
        self.0.id.0
    }

    /// Its name (empty until it has started).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The URLs the other members reach it on.
    pub fn peer_urls(&self) -> &[String] {
        &self.0.peer_urls
    }

    /// The URLs clients reach it on (empty until it has started).
    pub fn client_urls(&self) -> &[String] {
        &self.0.client_urls
    }

    /// Whether it is a learner.
    pub const fn is_learner(&self) -> bool {
        self.0.is_learner
    }
}

#[derive(Debug, Clone)]
struct Members {
    header: Option<ResponseHeader>,
    members: Vec<Member>,
}

macro_rules! members_response {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(Members);

        impl $name {
            /// The response header (it has no revision: member calls do not touch the store).
            pub fn header(&self) -> Option<&ResponseHeader> {
                self.0.header.as_ref()
            }

            /// Takes the response header out.
            pub fn take_header(&mut self) -> Option<ResponseHeader> {
                self.0.header.take()
            }

            /// The members after the call.
            pub fn members(&self) -> &[Member] {
                &self.0.members
            }
        }
    };
}

members_response! {
    /// The answer to a member listing.
    MemberListResponse
}
members_response! {
    /// The answer to removing a member.
    MemberRemoveResponse
}
members_response! {
    /// The answer to updating a member.
    MemberUpdateResponse
}
members_response! {
    /// The answer to promoting a learner.
    MemberPromoteResponse
}

/// The answer to adding a member: the new member and the members after the call.
#[derive(Debug, Clone)]
pub struct MemberAddResponse {
    header: Option<ResponseHeader>,
    member: Option<Member>,
    members: Vec<Member>,
}

impl MemberAddResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The new member.
    pub fn member(&self) -> Option<&Member> {
        self.member.as_ref()
    }

    /// The members after the call (etcd-client's name).
    pub fn member_list(&self) -> &[Member] {
        &self.members
    }
}
