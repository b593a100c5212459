//! The blocking [`Stm`]: software transactional memory with a plain closure.

use super::*;

/// Software transactional memory: [`run`](Self::run) calls a closure that reads and writes
/// keys through this handle, and commits its writes in one txn only if what it read is still
/// current, else calls it again (see [`concurrency::Stm`](crate::concurrency::Stm), whose
/// isolation levels and options it takes).
pub struct Stm {
    inner: nonblocking::Stm,
    client: Client,
}

impl fmt::Debug for Stm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Stm {
    /// Runs `apply` and commits its writes if nothing it depends on changed meanwhile, else
    /// runs it again, as often as it takes. `apply` gets a fresh handle on each attempt and
    /// must do all its reads and writes through it; an `Err` from it aborts the transaction
    /// with nothing written.
    ///
    /// # Errors
    /// The closure's error, or a request's error converted with `From` (inside an async
    /// runtime, [`Error::BlockingInAsync`] before anything is sent).
    ///
    /// # Examples
    /// ```no_run
    /// # fn run(client: etcdgw::blocking::Client) -> etcdgw::Result<()> {
    /// use etcdgw::blocking::concurrency::Stm;
    ///
    /// // Moves 10 from one account to another, atomically, however many transfers run at once.
    /// Stm::run(&client, None, |stm| {
    ///     let balance = |v: Option<Vec<u8>>| -> i64 {
    ///         v.and_then(|v| String::from_utf8(v).ok()?.parse().ok()).unwrap_or(0)
    ///     };
    ///     let from = balance(stm.get("accounts/alice")?);
    ///     let to = balance(stm.get("accounts/bob")?);
    ///     stm.put("accounts/alice", (from - 10).to_string(), None);
    ///     stm.put("accounts/bob", (to + 10).to_string(), None);
    ///     Ok::<_, etcdgw::Error>(())
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn run<T, E, F>(
        client: &Client,
        options: Option<StmOptions>,
        mut apply: F,
    ) -> std::result::Result<StmResponse<T>, E>
    where
        F: FnMut(&Stm) -> std::result::Result<T, E>,
        E: From<Error>,
    {
        const CALL: &str = "etcdgw::blocking::concurrency::Stm::run";
        let rt = client.runtime();
        let mut attempts = Attempts::new(client.inner(), options);
        loop {
            let inner = rt.run(CALL, attempts.start())?;
            let stm = Stm {
                inner,
                client: client.clone(),
            };
            // The closure runs here, outside the runtime, so its reads can wait.
            let value = apply(&stm)?;
            if let Some(txn) = rt.run(CALL, attempts.commit(&stm.inner))? {
                return Ok(attempts.done(value, txn));
            }
        }
    }

    /// The value of `key` (`None` if it does not exist), as the isolation level reads it.
    ///
    /// # Errors
    /// The read's errors, which abort the transaction when passed on with `?`.
    pub fn get(&self, key: impl Into<Vec<u8>>) -> Result<Option<Vec<u8>>> {
        self.client.runtime().run(
            "etcdgw::blocking::concurrency::Stm::get",
            self.inner.get(key),
        )
    }

    /// The key-value pair of `key` as this attempt read it.
    ///
    /// # Errors
    /// The read's errors.
    pub fn get_kv(&self, key: impl Into<Vec<u8>>) -> Result<Option<KeyValue>> {
        self.client.runtime().run(
            "etcdgw::blocking::concurrency::Stm::get_kv",
            self.inner.get_kv(key),
        )
    }

    /// The revision of the last write to `key` as this attempt read it, 0 if it does not
    /// exist.
    ///
    /// # Errors
    /// The read's errors.
    pub fn rev(&self, key: impl Into<Vec<u8>>) -> Result<i64> {
        self.client.runtime().run(
            "etcdgw::blocking::concurrency::Stm::rev",
            self.inner.rev(key),
        )
    }

    /// Writes `key` at the commit; later reads of it in this attempt return `value`.
    pub fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) {
        self.inner.put(key, value, options);
    }

    /// Deletes `key` at the commit; later reads of it in this attempt return `None`.
    #[doc(alias = "del")]
    pub fn delete(&self, key: impl Into<Vec<u8>>) {
        self.inner.delete(key);
    }
}
