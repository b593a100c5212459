//! The blocking [`Election`]: campaigning, the [`Leadership`] it gives, observing the leader.

use super::*;

/// A leader election taken part in through a [`Session`] (see
/// [`concurrency::Election`](crate::concurrency::Election)).
#[derive(Debug, Clone)]
pub struct Election {
    inner: nonblocking::Election,
    session: Session,
}

impl Election {
    /// The election `name`, taken part in through `session`. Nothing is sent yet.
    pub fn new(session: &Session, name: impl Into<Vec<u8>>) -> Election {
        Election {
            inner: nonblocking::Election::new(&session.inner, name),
            session: session.clone(),
        }
    }

    /// The election's name.
    pub fn name(&self) -> &[u8] {
        self.inner.name()
    }

    fn held(&self, leadership: nonblocking::Leadership) -> Leadership {
        Leadership {
            name: leadership.name().to_vec(),
            key: leadership.key().to_vec(),
            rev: leadership.rev(),
            header: leadership.header().clone(),
            inner: Held::new(leadership, self.session.client.runtime().clone()),
            session: self.session.clone(),
        }
    }

    /// Campaigns with `value`, waiting until elected.
    ///
    /// # Errors
    /// As [`concurrency::Election::campaign`](crate::concurrency::Election::campaign);
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn campaign(&self, value: impl Into<Vec<u8>>) -> Result<Leadership> {
        let leadership = self.session.client.runtime().run(
            "etcdgw::blocking::concurrency::Election::campaign",
            self.inner.campaign(value),
        )?;
        Ok(self.held(leadership))
    }

    /// Takes up a leadership this session won before, by its key and revision (see
    /// [`concurrency::Election::resume`](crate::concurrency::Election::resume)).
    pub fn resume(&self, key: impl Into<Vec<u8>>, rev: i64) -> Leadership {
        self.held(self.inner.resume(key, rev))
    }

    /// The current leader's key-value pair, or `None` if nobody leads.
    ///
    /// # Errors
    /// The read's errors; [`Error::BlockingInAsync`] inside an async runtime.
    pub fn leader(&self) -> Result<Option<KeyValue>> {
        self.session.client.runtime().run(
            "etcdgw::blocking::concurrency::Election::leader",
            self.inner.leader(),
        )
    }

    /// The leaders' key-value pairs as an iterator, the current one first (waiting until
    /// there is one), then each new proclamation and each new leader.
    pub fn observe(&self) -> LeaderStream {
        LeaderStream {
            inner: Held::new(self.inner.observe(), self.session.client.runtime().clone()),
            refused: false,
        }
    }
}

/// This session's leadership of an election, from [`Election::campaign`]: it ends with
/// [`resign`](Self::resign), when dropped (the drop waits until the key is deleted), or when
/// the session ends.
pub struct Leadership {
    inner: Held<nonblocking::Leadership>,
    session: Session,
    name: Vec<u8>,
    key: Vec<u8>,
    rev: i64,
    header: ResponseHeader,
}

impl fmt::Debug for Leadership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leadership")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Leadership {
    /// The election's name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The leader's key: the election's name, `/`, the session's lease in hex.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The revision at which the leader's key was created.
    pub fn rev(&self) -> i64 {
        self.rev
    }

    /// The header of the last answer that changed the leadership: the campaign or the last
    /// proclamation.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }

    /// A compare that holds while this is still the leader's key.
    pub fn is_leader(&self) -> Compare {
        Compare::create_revision(self.key.clone(), CompareOp::Equal, self.rev)
    }

    /// The session the leadership is held through.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Announces a new value without a new election: `false`, and nothing written, if this
    /// is no longer the leader.
    ///
    /// # Errors
    /// The write's errors; [`Error::BlockingInAsync`] inside an async runtime.
    pub fn proclaim(&mut self, value: impl Into<Vec<u8>>) -> Result<bool> {
        let rt = self.inner.rt.clone();
        let leadership = self
            .inner
            .get_mut()
            .ok_or_else(|| released("the leadership"))?;
        let leading = rt.run(
            "etcdgw::blocking::concurrency::Leadership::proclaim",
            leadership.proclaim(value),
        )?;
        self.header = leadership.header().clone();
        Ok(leading)
    }

    /// Steps down: the next candidate is elected.
    ///
    /// # Errors
    /// The delete's errors; [`Error::BlockingInAsync`] inside an async runtime, when it
    /// resigns in the background instead.
    pub fn resign(mut self) -> Result<()> {
        let rt = self.inner.rt.clone();
        let leadership = self
            .inner
            .take()
            .ok_or_else(|| released("the leadership"))?;
        if !rt.may_block() {
            rt.enter(|| drop(leadership));
            return Err(Error::BlockingInAsync {
                call: "etcdgw::blocking::concurrency::Leadership::resign",
            });
        }
        rt.run(
            "etcdgw::blocking::concurrency::Leadership::resign",
            leadership.resign(),
        )
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        let Some(leadership) = self.inner.take() else {
            return;
        };
        let rt = self.inner.rt.clone();
        if rt.may_block() {
            let _ = rt.block_on(
                "etcdgw::blocking::concurrency::Leadership::drop",
                leadership.resign(),
            );
        } else {
            rt.enter(|| drop(leadership));
        }
    }
}

/// The leaders of an election, from [`Election::observe`]: an [`Iterator`] of their key-value
/// pairs; it ends after an error that retrying cannot cure.
pub struct LeaderStream {
    inner: Held<nonblocking::LeaderStream>,
    refused: bool,
}

impl fmt::Debug for LeaderStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderStream").finish_non_exhaustive()
    }
}

impl LeaderStream {
    /// The next leader (or the leader's next value), waited for.
    ///
    /// # Errors
    /// An error that retrying cannot cure; [`Error::BlockingInAsync`] inside an async runtime.
    pub fn message(&mut self) -> Result<Option<KeyValue>> {
        self.wait()?.transpose()
    }

    fn wait(&mut self) -> Result<Option<Result<KeyValue>>> {
        let rt = self.inner.rt.clone();
        match self.inner.get_mut() {
            Some(stream) => rt.block_on(
                "etcdgw::blocking::concurrency::LeaderStream::next",
                stream.next(),
            ),
            None => Ok(None),
        }
    }
}

impl Iterator for LeaderStream {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.refused {
            return None;
        }
        match self.wait() {
            Ok(item) => item,
            Err(err) => {
                self.refused = true;
                Some(Err(err))
            }
        }
    }
}
