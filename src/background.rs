//! Output written on a thread of its own: the caller fills one large
//! buffer while the one before is being written. For a file, the system
//! call that copies the bytes into the page cache then no longer holds up
//! the thread producing them (convert writes as many bytes as it reads).

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

/// What the writing thread is asked to do.
enum Job {
    Write(Vec<u8>),
    Flush,
}

/// A buffered writer whose writes happen on another thread. Errors come
/// back on a later `write` or on `flush`, with their kind unchanged (a
/// closed pipe stays `BrokenPipe`).
pub struct BackgroundWriter {
    buf: Vec<u8>,
    capacity: usize,
    jobs: Option<SyncSender<Job>>,
    /// Written buffers coming back for reuse, and flush results.
    returned: Receiver<Returned>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

enum Returned {
    Buffer(Vec<u8>),
    Flushed(io::Result<()>),
}

impl BackgroundWriter {
    /// Writes to `out` in buffers of `capacity` bytes: one being filled,
    /// at most one waiting and one being written.
    pub fn new<W: Write + Send + 'static>(mut out: W, capacity: usize) -> io::Result<BackgroundWriter> {
        let (jobs, todo) = mpsc::sync_channel::<Job>(1);
        // Unbounded, so that the writing thread never waits on it: buffers
        // are only made while none has come back, so there are at most
        // three (one filling, one queued, one being written).
        let (give_back, returned) = mpsc::channel::<Returned>();
        let thread = std::thread::Builder::new().name("writer".into()).spawn(move || {
            for job in todo {
                match job {
                    Job::Write(mut buf) => {
                        out.write_all(&buf)?;
                        buf.clear();
                        // The writer may be gone already: nothing to return to.
                        let _ = give_back.send(Returned::Buffer(buf));
                    }
                    Job::Flush => {
                        let result = out.flush();
                        let failed = result.is_err();
                        let _ = give_back.send(Returned::Flushed(result));
                        if failed {
                            return Ok(());
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok(BackgroundWriter {
            buf: Vec::with_capacity(capacity),
            capacity,
            jobs: Some(jobs),
            returned,
            thread: Some(thread),
        })
    }

    /// Hands the filled buffer to the writing thread and takes an empty
    /// one (one it wrote, once there is one).
    fn hand_over(&mut self) -> io::Result<()> {
        let spare = match self.returned.try_recv() {
            Ok(Returned::Buffer(b)) => b,
            _ => Vec::with_capacity(self.capacity),
        };
        let full = std::mem::replace(&mut self.buf, spare);
        self.send(Job::Write(full))
    }

    fn send(&mut self, job: Job) -> io::Result<()> {
        let sent = self.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
        if sent {
            Ok(())
        } else {
            Err(self.failure())
        }
    }

    /// The error that stopped the writing thread.
    fn failure(&mut self) -> io::Error {
        self.jobs = None;
        let ended = self.thread.take().map(|t| t.join());
        match ended {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the writing thread panicked"),
            Some(Ok(Ok(()))) | None => io::Error::other("output already failed"),
        }
    }
}

impl Write for BackgroundWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.capacity && !self.buf.is_empty() {
            self.hand_over()?;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.write(data).map(|_| ())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.hand_over()?;
        }
        self.send(Job::Flush)?;
        loop {
            match self.returned.recv() {
                Ok(Returned::Buffer(_)) => continue,
                Ok(Returned::Flushed(Ok(()))) => return Ok(()),
                Ok(Returned::Flushed(Err(e))) => {
                    self.failure();
                    return Err(e);
                }
                Err(_) => return Err(self.failure()),
            }
        }
    }
}

impl Drop for BackgroundWriter {
    fn drop(&mut self) {
        // Whatever is still buffered is written; errors here have no one
        // to go to, as with a BufWriter.
        if !self.buf.is_empty() {
            let _ = self.hand_over();
        }
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A sink that keeps what it is given, failing once it holds `limit`.
    #[derive(Clone)]
    struct Sink {
        got: Arc<Mutex<Vec<u8>>>,
        limit: usize,
    }

    impl Write for Sink {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let mut got = self.got.lock().unwrap();
            if got.len() + data.len() > self.limit {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            got.extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_every_byte_in_order() {
        let sink = Sink { got: Arc::default(), limit: usize::MAX };
        let mut w = BackgroundWriter::new(sink.clone(), 16).unwrap();
        let mut want = Vec::new();
        for i in 0..1000u32 {
            let piece = i.to_le_bytes().repeat((i % 7) as usize);
            w.write_all(&piece).unwrap();
            want.extend_from_slice(&piece);
        }
        w.write_all(&[9; 40]).unwrap();
        want.extend_from_slice(&[9; 40]);
        w.flush().unwrap();
        assert_eq!(*sink.got.lock().unwrap(), want);
    }

    #[test]
    fn an_error_comes_back_with_its_kind() {
        let sink = Sink { got: Arc::default(), limit: 100 };
        let mut w = BackgroundWriter::new(sink, 16).unwrap();
        let mut result = Ok(());
        for _ in 0..100 {
            result = w.write_all(&[1; 10]);
            if result.is_err() {
                break;
            }
        }
        let e = result.err().or_else(|| w.flush().err()).expect("the sink's error");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
