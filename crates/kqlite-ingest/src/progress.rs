//! A one-line progress display on stderr: files, rows/s, rejects.
//!
//! The caller decides whether to show it (stderr is a terminal); when off,
//! the counters still count and nothing is drawn.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Counters {
    pub files_done: AtomicUsize,
    /// Rows handed to tables so far (an EVTX record may make two).
    pub rows: AtomicUsize,
    pub rejected: AtomicUsize,
}

pub struct Progress {
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    drawer: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts counting `total_files`; draws every 200 ms when `show`.
    pub fn start(total_files: usize, show: bool) -> Progress {
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let drawer = show.then(|| {
            let counters = counters.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut stderr = std::io::stderr();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = write!(stderr, "\r\x1b[2K{}", line(&counters, total_files, started.elapsed()));
                    let _ = stderr.flush();
                }
                let _ = write!(stderr, "\r\x1b[2K");
                let _ = stderr.flush();
            })
        });
        Progress { counters, stop, drawer }
    }

    /// Stops drawing and clears the line.
    pub fn finish(mut self) {
        self.stop_drawing();
    }

    fn stop_drawing(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_drawing();
    }
}

fn line(counters: &Counters, total_files: usize, elapsed: Duration) -> String {
    let rows = counters.rows.load(Ordering::Relaxed);
    let rate = rows as f64 / elapsed.as_secs_f64().max(0.001);
    format!(
        "ingesting: {}/{} files, {} rows ({:.0}/s), {} rejected",
        counters.files_done.load(Ordering::Relaxed),
        total_files,
        rows,
        rate,
        counters.rejected.load(Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_files_rate_and_rejects() {
        let c = Counters::default();
        c.files_done.store(3, Ordering::Relaxed);
        c.rows.store(5000, Ordering::Relaxed);
        c.rejected.store(2, Ordering::Relaxed);
        assert_eq!(line(&c, 10, Duration::from_secs(2)), "ingesting: 3/10 files, 5000 rows (2500/s), 2 rejected");
    }
}
