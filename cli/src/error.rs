//! etcdctl's exit codes, and how the library's errors map to them.

use etcdgw::{Error, ServerErrorKind};

/// etcdctl's exit codes (`pkg/cobrautl`), which scripts test for.
pub(crate) mod exit {
    /// A request failed: etcd refused it, or it could not be carried out.
    pub(crate) const ERROR: i32 = 1;
    /// No member answered: connection refused, unreachable, or no answer in time.
    pub(crate) const BAD_CONNECTION: i32 = 2;
    /// Unreadable input (a transaction or a watch command on stdin).
    pub(crate) const INVALID_INPUT: i32 = 3;
    /// A valid flag with a value this command does not support (an output format, say).
    pub(crate) const BAD_FEATURE: i32 = 4;
    /// A watch ended by the server, or a snapshot that could not be saved.
    pub(crate) const INTERRUPTED: i32 = 5;
    /// Reading or writing a local file failed.
    pub(crate) const IO: i32 = 6;
    /// The command's arguments are wrong (missing, too many, conflicting).
    pub(crate) const BAD_ARGS: i32 = 128;
}

/// What ends a command: its exit code and the message printed as `Error: <message>`.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: i32,
    pub(crate) message: String,
}

/// `Result` with a [`CliError`].
pub(crate) type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_args(message: impl Into<String>) -> Self {
        CliError::new(exit::BAD_ARGS, message)
    }

    pub(crate) fn bad_feature(message: impl Into<String>) -> Self {
        CliError::new(exit::BAD_FEATURE, message)
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        CliError::new(exit::INVALID_INPUT, message)
    }

    /// Exits with `code` without printing anything more (the command already said why).
    pub(crate) fn silent(code: i32) -> Self {
        CliError::new(code, String::new())
    }

    /// A library error with etcdctl's exit code for it, its message prefixed (as etcdctl's
    /// `failed to grant lease (...)`).
    pub(crate) fn wrap(err: &Error, prefix: &str) -> Self {
        let mut e = CliError::from(err);
        e.message = format!("{prefix} ({})", e.message);
        e
    }

    /// The same error with another exit code.
    pub(crate) fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
}

/// What a library error says, as etcdctl would say it: etcd's own message for a server error
/// (`etcdserver: key is not provided`), the library's message otherwise.
pub(crate) fn message_of(err: &Error) -> String {
    match err.server_error() {
        Some(server) => server.message().to_string(),
        None => err.to_string(),
    }
}

/// The exit code for a library error: etcd's refusals are ExitError (1) as in etcdctl;
/// failures to reach any member are ExitBadConnection (2), where etcdctl, which cannot tell
/// them apart from a slow cluster, says `context deadline exceeded` with 1.
/// A wrong user or password is ExitBadConnection too: etcdctl authenticates while it
/// connects.
pub(crate) fn code_of(err: &Error) -> i32 {
    match err {
        Error::Transport { .. } | Error::Timeout { .. } => exit::BAD_CONNECTION,
        Error::Server(e) if e.kind() == ServerErrorKind::AuthFailed => exit::BAD_CONNECTION,
        Error::InvalidEndpoint { .. } | Error::InvalidSetting { .. } => exit::BAD_ARGS,
        Error::Unsupported { .. } => exit::BAD_FEATURE,
        Error::Io { .. } => exit::IO,
        _ => exit::ERROR,
    }
}

impl From<&Error> for CliError {
    fn from(err: &Error) -> Self {
        CliError::new(code_of(err), message_of(err))
    }
}

impl From<Error> for CliError {
    fn from(err: Error) -> Self {
        CliError::from(&err)
    }
}

/// An I/O error on stdout or a local file.
pub(crate) fn io_error(context: &str, err: &std::io::Error) -> CliError {
    CliError::new(exit::IO, format!("{context}: {err}"))
}
