//! Sizes, offsets and magic numbers of the ETL container, and nothing else.
//!
//! Names follow the Windows headers (`ntwmi.h`, `evntrace.h`, `evntcons.h`);
//! see `shared/docs/etl-format.md` §1–2 for where each was verified.

/// `WMI_BUFFER_HEADER`: same size in 32- and 64-bit sessions.
pub const BUFFER_HEADER_LEN: usize = 0x48;

/// Largest buffer we accept, compressed on disk or decompressed in memory.
/// Windows caps ETW buffers at 16 MiB (`MAX_ETW_BUFFER_SIZE`, Win8+); we
/// allow four times that so odd relogged files still read, and refuse more
/// before allocating.
pub const MAX_BUFFER_LEN: usize = 64 << 20;

/// Records are 8-byte aligned inside a buffer (`DEFAULT_TRACE_ALIGNMENT`).
pub const RECORD_ALIGN: usize = 8;

/// A u32 of all ones where a record marker should be: the rest of the
/// buffer is filler.
pub const FILLER_MARKER: u32 = 0xFFFF_FFFF;

/// Offsets inside `WMI_BUFFER_HEADER`.
pub mod buffer_field {
    pub const BUFFER_SIZE: usize = 0x00;
    pub const SAVED_OFFSET: usize = 0x04;
    pub const TIMESTAMP: usize = 0x10;
    pub const SEQUENCE_NUMBER: usize = 0x18;
    pub const PROCESSOR_INDEX: usize = 0x28;
    pub const LOGGER_ID: usize = 0x2A;
    pub const STATE: usize = 0x2C;
    pub const FILLED_BYTES: usize = 0x30;
    pub const BUFFER_FLAG: usize = 0x34;
    pub const BUFFER_TYPE: usize = 0x36;
}

/// `ETW_BUFFER_FLAG_*`.
pub mod buffer_flag {
    pub const FLUSH_MARKER: u16 = 0x0001;
    pub const EVENTS_LOST: u16 = 0x0002;
    pub const BUFFER_LOST: u16 = 0x0004;
    pub const RTBACKUP_CORRUPT: u16 = 0x0008;
    pub const RTBACKUP: u16 = 0x0010;
    pub const PROC_INDEX: u16 = 0x0020;
    pub const COMPRESSED: u16 = 0x0040;
    /// Every bit we know; others mark a header as implausible.
    pub const KNOWN: u16 = 0x007F;
}

/// `ETW_BUFFER_TYPE_*`.
pub mod buffer_type {
    pub const GENERIC: u16 = 0;
    pub const RUNDOWN: u16 = 1;
    pub const CTX_SWAP: u16 = 2;
    pub const REFTIME: u16 = 3;
    pub const HEADER: u16 = 4;
    pub const BATCHED: u16 = 5;
    pub const EMPTY_MARKER: u16 = 6;
    pub const DBG_INFO: u16 = 7;
    pub const MAXIMUM: u16 = 8;
}

/// `ETW_PROCESSOR_INDEX_MASK`.
pub const PROCESSOR_INDEX_MASK: u16 = 0x07FF;

/// Bits of the marker's top byte.
pub mod marker_flag {
    /// `TRACE_HEADER_FLAG`: set on every trace record.
    pub const TRACE_HEADER: u8 = 0x80;
    /// `TRACE_HEADER_EVENT_TRACE`: the header type byte is meaningful.
    pub const EVENT_TRACE: u8 = 0x40;
    /// `TRACE_MESSAGE`: a WPP message record.
    pub const MESSAGE: u8 = 0x10;
}

/// `TRACE_HEADER_TYPE_*`: the marker's third byte.
pub mod header_type {
    pub const SYSTEM32: u8 = 0x01;
    pub const SYSTEM64: u8 = 0x02;
    pub const COMPACT32: u8 = 0x03;
    pub const COMPACT64: u8 = 0x04;
    pub const FULL_HEADER32: u8 = 0x0A;
    pub const INSTANCE32: u8 = 0x0B;
    pub const TIMED: u8 = 0x0C;
    pub const ERROR: u8 = 0x0D;
    pub const WNODE_HEADER: u8 = 0x0E;
    pub const MESSAGE: u8 = 0x0F;
    pub const PERFINFO32: u8 = 0x10;
    pub const PERFINFO64: u8 = 0x11;
    pub const EVENT_HEADER32: u8 = 0x12;
    pub const EVENT_HEADER64: u8 = 0x13;
    pub const FULL_HEADER64: u8 = 0x14;
    pub const INSTANCE64: u8 = 0x15;
}

/// Fixed header lengths, before any extension words.
pub const SYSTEM_HEADER_LEN: usize = 0x20;
pub const COMPACT_HEADER_LEN: usize = 0x18;
pub const PERFINFO_HEADER_LEN: usize = 0x10;
pub const FULL_HEADER_LEN: usize = 0x30;
pub const INSTANCE_HEADER_LEN: usize = 0x48;
pub const MESSAGE_HEADER_LEN: usize = 0x08;
pub const EVENT_HEADER_LEN: usize = 0x50;

/// Version-word bits of SYSTEM/COMPACT/PERFINFO headers that announce
/// 8-byte extension words between the fixed header and the payload.
pub const VERSION_PEBS_INDEX_FLAG: u16 = 0x8000;
pub const VERSION_PMC_COUNTERS_MASK: u16 = 0x0700;

/// `EVENT_HEADER_FLAG_*`.
pub mod event_flag {
    pub const EXTENDED_INFO: u16 = 0x0001;
    pub const PRIVATE_SESSION: u16 = 0x0002;
    pub const STRING_ONLY: u16 = 0x0004;
    pub const TRACE_MESSAGE: u16 = 0x0008;
    pub const NO_CPUTIME: u16 = 0x0010;
    pub const HEADER_32_BIT: u16 = 0x0020;
    pub const HEADER_64_BIT: u16 = 0x0040;
    pub const DECODE_GUID: u16 = 0x0080;
    pub const CLASSIC_HEADER: u16 = 0x0100;
    pub const PROCESSOR_INDEX: u16 = 0x0200;
}

/// `EVENT_HEADER_EXTENDED_DATA_ITEM` as stored in a buffer: u16 ItemSize,
/// u16 ExtType, u16 Linkage, u16 DataSize, then data padded to ItemSize.
pub const EXT_ITEM_HEADER_LEN: usize = 8;
/// Linkage bit: another item follows.
pub const EXT_LINKAGE_MORE: u16 = 0x0001;

/// `MESSAGE_TRACE_HEADER` OptionFlags (order of the optional fields as laid
/// out after the 8-byte header).
pub mod message_flag {
    pub const SEQUENCE: u16 = 0x0001;
    pub const GUID: u16 = 0x0002;
    pub const COMPONENT_ID: u16 = 0x0004;
    pub const TIMESTAMP: u16 = 0x0008;
    pub const PERFORMANCE_TIMESTAMP: u16 = 0x0010;
    pub const SYSTEMINFO: u16 = 0x0020;
}

/// `TRACE_LOGFILE_HEADER` lengths (after the 0x20-byte system header).
pub const LOGFILE_HEADER_LEN_64: usize = 0x118;
pub const LOGFILE_HEADER_LEN_32: usize = 0x110;

/// Offsets inside `TRACE_LOGFILE_HEADER` that do not depend on pointer size.
pub mod logfile_field {
    pub const BUFFER_SIZE: usize = 0x00;
    pub const VERSION: usize = 0x04;
    pub const PROVIDER_VERSION: usize = 0x08;
    pub const NUMBER_OF_PROCESSORS: usize = 0x0C;
    pub const END_TIME: usize = 0x10;
    pub const TIMER_RESOLUTION: usize = 0x18;
    pub const MAXIMUM_FILE_SIZE: usize = 0x1C;
    pub const LOG_FILE_MODE: usize = 0x20;
    pub const BUFFERS_WRITTEN: usize = 0x24;
    pub const START_BUFFERS: usize = 0x28;
    pub const POINTER_SIZE: usize = 0x2C;
    pub const EVENTS_LOST: usize = 0x30;
    pub const CPU_SPEED_MHZ: usize = 0x34;
    /// First pointer-sized field (LoggerName); the time zone follows the
    /// second one.
    pub const LOGGER_NAME_PTR: usize = 0x38;
    /// `TIME_ZONE_INFORMATION` length.
    pub const TIME_ZONE_LEN: usize = 0xAC;
}

/// `EVENT_TRACE_FILE_MODE_*` and friends (`LogFileMode`).
pub mod log_file_mode {
    pub const SEQUENTIAL: u32 = 0x0000_0001;
    pub const CIRCULAR: u32 = 0x0000_0002;
    pub const APPEND: u32 = 0x0000_0004;
    pub const NEWFILE: u32 = 0x0000_0008;
    pub const REAL_TIME: u32 = 0x0000_0100;
    pub const BUFFERING: u32 = 0x0000_0400;
    pub const PRIVATE_LOGGER: u32 = 0x0000_0800;
    pub const RELOG: u32 = 0x0001_0000;
    pub const SYSTEM_LOGGER: u32 = 0x0200_0000;
    pub const COMPRESSED: u32 = 0x0400_0000;
    pub const INDEPENDENT_SESSION: u32 = 0x0800_0000;
    pub const NO_PER_PROCESSOR_BUFFERING: u32 = 0x1000_0000;
}

/// HookId of the logfile-header system record (group 0, type 0).
pub const HOOK_LOGFILE_HEADER: u16 = 0x0000;

/// Difference between the FILETIME epoch (1601) and the Unix epoch, in
/// 100 ns ticks.
pub const FILETIME_UNIX_DIFF: i64 = 116_444_736_000_000_000;
