//! What a long capture leaves behind in lists that grow with it (flows,
//! NAT mappings, drops), kept in chunks of which only the recently used
//! stay in memory; the rest wait in a temporary file.
//!
//! - [`codec`]: values as bytes for that file;
//! - [`store`]: the chunked list, [`ChunkStore`];
//! - [`index`]: a hash index that keeps 8 bytes a key, the keys themselves
//!   staying in the store.

pub mod codec;
pub mod index;
pub mod store;

pub use codec::{Reader, Spill, Writer};
pub use index::TagIndex;
pub use store::{ChunkStore, CHUNK_LEN};

/// Items of each list kept in memory by default before chunks of them go
/// to the temporary file: 16 chunks, about 5 MB of flows.
pub const DEFAULT_IN_MEMORY: usize = 16 * CHUNK_LEN;
