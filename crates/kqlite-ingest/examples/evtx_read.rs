//! Reads EVTX files into SecurityEvent/WindowsEvent batches and drops them:
//! the reader's own speed, without a store (`bench/evtx_bench.py` runs it).
//!
//!     cargo run --release -p kqlite-ingest --example evtx_read -- DIR [--raw]

use kqlite_ingest::evtx::{find_evtx_files, read_evtx, EvtxOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        eprintln!("usage: evtx_read DIR [--raw]");
        std::process::exit(2);
    };
    // --raw: keep RawEventData, which reads records through the evtx crate's XML.
    let options = EvtxOptions { raw_event_data: args.iter().any(|a| a == "--raw"), ..EvtxOptions::default() };
    let paths = find_evtx_files(std::path::Path::new(dir)).expect("list DIR");
    // As `kqlite ingest` does: with several files in flight, each is parsed on one thread.
    let options = EvtxOptions { parse_threads: if paths.len() > 1 { 1 } else { 0 }, ..options };
    let start = Instant::now();
    let (next, records, rows, rejected) =
        (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Files in parallel, batches dropped as they come: memory stays at a few batches per thread.
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(path) = paths.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let report = read_evtx(path, &options, &mut |_, batch| {
                        rows.fetch_add(batch.num_rows(), Ordering::Relaxed);
                    });
                    records.fetch_add(report.load.records_read, Ordering::Relaxed);
                    rejected.fetch_add(report.load.rejected.len(), Ordering::Relaxed);
                    if let Some(e) = report.error {
                        eprintln!("{e}");
                    }
                }
            });
        }
    });
    println!(
        "{} files, {} records ({} rejected), {} rows in {:.2} s",
        paths.len(),
        records.into_inner(),
        rejected.into_inner(),
        rows.into_inner(),
        start.elapsed().as_secs_f64()
    );
}
