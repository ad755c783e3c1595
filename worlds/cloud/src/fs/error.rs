//! The filesystem's errors: a POSIX-style code for the guest, or a trap for the host's own
//! faults; and store and local I/O failures as codes. The guest sees only the code; the
//! details go to the host's log, so a user can tell a missing object from a network failure.

/// What went wrong, as the guest is told. The same set as `wasi:filesystem`'s `error-code`
/// (0.2 and 0.3 alike), so an adapter maps it one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Access,
    WouldBlock,
    Already,
    BadDescriptor,
    Busy,
    Deadlock,
    Quota,
    Exist,
    FileTooLarge,
    IllegalByteSequence,
    InProgress,
    Interrupted,
    Invalid,
    Io,
    IsDirectory,
    Loop,
    TooManyLinks,
    MessageSize,
    NameTooLong,
    NoDevice,
    NoEntry,
    NoLock,
    InsufficientMemory,
    InsufficientSpace,
    NotDirectory,
    NotEmpty,
    NotRecoverable,
    Unsupported,
    NoTty,
    NoSuchDevice,
    Overflow,
    NotPermitted,
    Pipe,
    ReadOnly,
    InvalidSeek,
    TextFileBusy,
    CrossDevice,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for ErrorCode {}

/// A filesystem error: a code for the guest, or a trap for the host's own faults (the run's
/// write limit, a broken invariant), which stops the run.
#[derive(Debug)]
pub enum FsError {
    Code(ErrorCode),
    Trap(wasmtime::Error),
}

/// A filesystem result.
pub type FsResult<T> = Result<T, FsError>;

impl FsError {
    pub fn trap(error: impl Into<wasmtime::Error>) -> FsError {
        FsError::Trap(error.into())
    }

    /// The code, if this is not a trap.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            FsError::Code(code) => Some(*code),
            FsError::Trap(_) => None,
        }
    }
}

impl From<ErrorCode> for FsError {
    fn from(code: ErrorCode) -> FsError {
        FsError::Code(code)
    }
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsError::Code(code) => write!(f, "{code:?}"),
            FsError::Trap(error) => write!(f, "{error}"),
        }
    }
}

/// The error code for a store failure on `what` (a key or operation, for the log).
pub fn store_error(error: object_store::Error, what: &dyn std::fmt::Display) -> FsError {
    let code = match &error {
        object_store::Error::NotFound { .. } => ErrorCode::NoEntry,
        _ if cannot_list(&error) => ErrorCode::NoEntry,
        object_store::Error::AlreadyExists { .. } => ErrorCode::Exist,
        object_store::Error::Precondition { .. } => ErrorCode::Busy,
        object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented { .. } => {
            ErrorCode::Unsupported
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => ErrorCode::Access,
        object_store::Error::InvalidPath { .. } => ErrorCode::Invalid,
        _ if worldhost_store::is_store_full(&error) => ErrorCode::InsufficientSpace,
        _ => ErrorCode::Io,
    };
    if code == ErrorCode::NoEntry {
        tracing::debug!(%what, %error, "store: not found");
    } else {
        tracing::warn!(%what, error = %error, ?code, "store request failed");
    }
    code.into()
}

/// Whether `error` is a plain web server refusing to list (an `http(s)://` store lists with
/// WebDAV's PROPFIND, which most servers answer with 405 Method Not Allowed or 501 Not
/// Implemented). Such a server knows no directories, so a path that is no file there is no
/// entry: a missing file is `no-entry`, as on a directory, and not an I/O error. (So is a
/// listing of a directory on such a server: it cannot be listed.)
fn cannot_list(error: &object_store::Error) -> bool {
    let object_store::Error::Generic { store: "HTTP", .. } = error else {
        return false;
    };
    // object_store keeps the status in a private type: its message is all there is to read
    // (`Error performing PROPFIND URL ... 405 Method Not Allowed`). The test
    // `an_http_mount_reads_files_and_misses_are_no_entry` notices if the wording changes.
    let message = error.to_string();
    message.contains("PROPFIND")
        && (message.contains("405 Method Not Allowed") || message.contains("501 Not Implemented"))
}

/// A local I/O failure: a staged file, or a local store's own files.
pub fn spool_error(error: std::io::Error) -> FsError {
    tracing::warn!(%error, "staging file failed");
    match error.kind() {
        std::io::ErrorKind::NotFound => ErrorCode::NoEntry,
        std::io::ErrorKind::PermissionDenied => ErrorCode::Access,
        std::io::ErrorKind::StorageFull => ErrorCode::InsufficientSpace,
        std::io::ErrorKind::OutOfMemory => ErrorCode::InsufficientMemory,
        _ => ErrorCode::Io,
    }
    .into()
}

/// Whether a store error means "no object there": `NotFound`, or a local store finding a
/// file where the key needs a directory (`a.txt/b` below a file `a.txt`).
pub fn is_not_found(error: &object_store::Error) -> bool {
    if matches!(error, object_store::Error::NotFound { .. }) {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            cause
                .downcast_ref::<walkdir::Error>()
                .and_then(walkdir::Error::io_error)
        });
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::NotADirectory) {
            return true;
        }
        source = cause.source();
    }
    false
}
