//! The ticket printer (a port, GLI-31 3.3): its state is read before
//! every ticket and after it, so paper out or low, an open cover, a lost
//! connection and a low battery are shown to the operator, and a ticket
//! that did not print is known not to have printed.
//!
//! - [`NetworkPrinter`]: a thermal printer speaking ESC/POS over TCP (the
//!   raw port 9100), its state read with the real-time status queries
//!   `DLE EOT 1, 2, 4`; the battery from the platform (a Linux power-supply
//!   `capacity` file), since ESC/POS has no battery query.
//! - [`FilePrinter`]: each ticket a file, always ready (headless runs, tests).
//! - [`Simulator`]: a printer on a local TCP port that answers the status
//!   queries from its state and injects each fault, mid-ticket included,
//!   for [`NetworkPrinter`] to detect.

use crate::escpos::{self, Command};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paper {
    Ok,
    Low,
    Out,
}

/// What the printer reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub connected: bool,
    pub paper: Paper,
    pub cover_open: bool,
    pub battery_low: bool,
}

/// A printer state the operator is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    Disconnected,
    PaperOut,
    CoverOpen,
    PaperLow,
    BatteryLow,
}

impl Problem {
    /// Whether a ticket cannot print while it lasts.
    pub fn blocks(self) -> bool {
        matches!(
            self,
            Problem::Disconnected | Problem::PaperOut | Problem::CoverOpen
        )
    }

    pub fn code(self) -> &'static str {
        match self {
            Problem::Disconnected => "printer_disconnected",
            Problem::PaperOut => "paper_out",
            Problem::CoverOpen => "cover_open",
            Problem::PaperLow => "paper_low",
            Problem::BatteryLow => "battery_low",
        }
    }
}

impl Status {
    pub const READY: Status = Status {
        connected: true,
        paper: Paper::Ok,
        cover_open: false,
        battery_low: false,
    };

    pub fn problems(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        if !self.connected {
            p.push(Problem::Disconnected);
            return p;
        }
        match self.paper {
            Paper::Out => p.push(Problem::PaperOut),
            Paper::Low => p.push(Problem::PaperLow),
            Paper::Ok => {}
        }
        if self.cover_open {
            p.push(Problem::CoverOpen);
        }
        if self.battery_low {
            p.push(Problem::BatteryLow);
        }
        p
    }

    /// The first problem that stops printing, if any.
    pub fn blocking(&self) -> Option<Problem> {
        self.problems().into_iter().find(|p| p.blocks())
    }
}

pub trait Printer: Send {
    fn status(&mut self) -> Status;
    /// Prints one ticket; `Err` with what stopped it when it did not
    /// print whole.
    fn print(&mut self, job: &[u8]) -> Result<(), Problem>;
}

/// Each ticket as a file `ticket-NNNNNN.escpos` in a directory.
pub struct FilePrinter {
    dir: PathBuf,
    next: u64,
}

impl FilePrinter {
    pub fn new(dir: &std::path::Path) -> std::io::Result<FilePrinter> {
        std::fs::create_dir_all(dir)?;
        let next = std::fs::read_dir(dir)?.count() as u64 + 1;
        Ok(FilePrinter {
            dir: dir.to_path_buf(),
            next,
        })
    }
}

impl Printer for FilePrinter {
    fn status(&mut self) -> Status {
        Status {
            connected: self.dir.is_dir(),
            ..Status::READY
        }
    }

    fn print(&mut self, job: &[u8]) -> Result<(), Problem> {
        let path = self.dir.join(format!("ticket-{:06}.escpos", self.next));
        std::fs::write(&path, job).map_err(|_| Problem::Disconnected)?;
        self.next += 1;
        Ok(())
    }
}

/// A thermal printer on the network (ESC/POS over TCP).
pub struct NetworkPrinter {
    addr: SocketAddr,
    /// A file holding the battery's charge in percent.
    battery: Option<PathBuf>,
    timeout: Duration,
}

/// Below this charge the battery is low.
const BATTERY_LOW_PERCENT: u32 = 15;

impl NetworkPrinter {
    pub fn new(addr: SocketAddr, battery: Option<PathBuf>) -> NetworkPrinter {
        NetworkPrinter {
            addr,
            battery,
            timeout: Duration::from_secs(3),
        }
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let s = TcpStream::connect_timeout(&self.addr, self.timeout)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        Ok(s)
    }

    fn battery_low(&self) -> bool {
        self.battery.as_ref().is_some_and(|p| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .is_some_and(|pct| pct < BATTERY_LOW_PERCENT)
        })
    }

    /// Asks `DLE EOT n` on `s`; a status byte always has bits 1 and 4 set
    /// and bits 0 and 7 clear, so anything else is no answer.
    fn ask(s: &mut TcpStream, n: u8) -> Option<u8> {
        s.write_all(&[0x10, 0x04, n]).ok()?;
        let mut b = [0u8; 1];
        s.read_exact(&mut b).ok()?;
        (b[0] & 0x93 == 0x12).then_some(b[0])
    }

    fn read_status(&self, s: &mut TcpStream) -> Status {
        let disconnected = Status {
            connected: false,
            battery_low: self.battery_low(),
            ..Status::READY
        };
        let (Some(_online), Some(cause), Some(paper)) =
            (Self::ask(s, 1), Self::ask(s, 2), Self::ask(s, 4))
        else {
            return disconnected;
        };
        Status {
            connected: true,
            paper: if paper & 0x60 != 0 {
                Paper::Out
            } else if paper & 0x0C != 0 {
                Paper::Low
            } else {
                Paper::Ok
            },
            cover_open: cause & 0x04 != 0,
            battery_low: self.battery_low(),
        }
    }
}

impl Printer for NetworkPrinter {
    fn status(&mut self) -> Status {
        match self.connect() {
            Ok(mut s) => self.read_status(&mut s),
            Err(_) => Status {
                connected: false,
                battery_low: self.battery_low(),
                ..Status::READY
            },
        }
    }

    fn print(&mut self, job: &[u8]) -> Result<(), Problem> {
        let mut s = self.connect().map_err(|_| Problem::Disconnected)?;
        if let Some(p) = self.read_status(&mut s).blocking() {
            return Err(p);
        }
        s.write_all(job).map_err(|_| Problem::Disconnected)?;
        s.flush().map_err(|_| Problem::Disconnected)?;
        // The state after the ticket says whether it printed whole: a
        // printer that ran out of paper or was opened mid-ticket says so,
        // one that went away answers nothing.
        match self.read_status(&mut s).blocking() {
            Some(p) => Err(p),
            None => Ok(()),
        }
    }
}

/// A fault the simulator injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    PaperOut,
    CoverOpen,
    Disconnect,
}

#[derive(Debug)]
struct SimState {
    paper: Paper,
    cover_open: bool,
    /// Refuses connections (unplugged).
    unplugged: bool,
    /// After this many more bytes of ticket data, the fault happens.
    fail_after: Option<(usize, Fault)>,
    /// Tickets printed whole (up to their cut).
    printed: Vec<Vec<u8>>,
    /// Bytes of the ticket being printed.
    current: Vec<u8>,
    /// Tickets that stopped part way.
    torn: usize,
}

/// A printer simulator on 127.0.0.1 (ESC/POS over TCP), with a handle to
/// set its state and inject faults.
#[derive(Clone)]
pub struct Simulator {
    state: Arc<Mutex<SimState>>,
    addr: SocketAddr,
    battery: PathBuf,
    _dir: Arc<tempfile_dir::Dir>,
}

/// A private directory for the simulator's battery file.
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Simulator {
    pub fn start() -> std::io::Result<Simulator> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(std::io::Error::other)?;
        let dir = std::env::temp_dir().join(format!("raffle-rsu-printer-{}", hex::encode(rnd)));
        std::fs::create_dir_all(&dir)?;
        let battery = dir.join("capacity");
        std::fs::write(&battery, "100\n")?;
        let state = Arc::new(Mutex::new(SimState {
            paper: Paper::Ok,
            cover_open: false,
            unplugged: false,
            fail_after: None,
            printed: Vec::new(),
            current: Vec::new(),
            torn: 0,
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                if st.lock().expect("simulator").unplugged {
                    drop(conn);
                    continue;
                }
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Ok(Simulator {
            state,
            addr,
            battery,
            _dir: Arc::new(tempfile_dir::Dir(dir)),
        })
    }

    /// A driver for this printer.
    pub fn printer(&self) -> NetworkPrinter {
        NetworkPrinter::new(self.addr, Some(self.battery.clone()))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its battery file (a Linux power-supply `capacity`).
    pub fn battery_file(&self) -> &std::path::Path {
        &self.battery
    }

    fn with<T>(&self, f: impl FnOnce(&mut SimState) -> T) -> T {
        f(&mut self.state.lock().expect("simulator"))
    }

    pub fn set_paper(&self, p: Paper) {
        self.with(|s| s.paper = p);
    }

    pub fn set_cover_open(&self, open: bool) {
        self.with(|s| s.cover_open = open);
    }

    pub fn set_unplugged(&self, unplugged: bool) {
        self.with(|s| s.unplugged = unplugged);
    }

    pub fn set_battery(&self, percent: u32) {
        std::fs::write(&self.battery, format!("{percent}\n")).expect("battery file");
    }

    /// The fault happens after `bytes` more bytes of ticket data.
    pub fn fail_after(&self, bytes: usize, fault: Fault) {
        self.with(|s| s.fail_after = Some((bytes, fault)));
    }

    /// Tickets printed whole, in order.
    pub fn printed(&self) -> Vec<Vec<u8>> {
        self.with(|s| s.printed.clone())
    }

    /// How many tickets stopped part way.
    pub fn torn(&self) -> usize {
        self.with(|s| s.torn)
    }
}

/// One connection: answers status queries from the state, prints the
/// rest, stops where a fault strikes.
fn serve(mut conn: TcpStream, st: &Mutex<SimState>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        // A command never needs this much: garbage, like a line never ended.
        if buf.len() > 1 << 20 {
            st.lock().expect("simulator").torn += 1;
            return;
        }
        loop {
            let parsed = match escpos::next_command(&buf) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                // A real printer prints garbage; the simulator refuses it
                // loudly, so a test sees a job it could not read.
                Err(_) => {
                    st.lock().expect("simulator").torn += 1;
                    return;
                }
            };
            let (command, used) = parsed;
            let bytes: Vec<u8> = buf.drain(..used).collect();
            let mut s = st.lock().expect("simulator");
            if s.unplugged {
                return;
            }
            if let Command::Status(q) = command {
                let b = match q {
                    1 => {
                        0x12 | if s.paper == Paper::Out || s.cover_open {
                            0x08
                        } else {
                            0
                        }
                    }
                    2 => {
                        0x12 | if s.cover_open { 0x04 } else { 0 }
                            | if s.paper == Paper::Out { 0x20 } else { 0 }
                    }
                    4 => {
                        0x12 | match s.paper {
                            Paper::Ok => 0,
                            Paper::Low => 0x0C,
                            Paper::Out => 0x6C,
                        }
                    }
                    _ => 0x12,
                };
                drop(s);
                if conn.write_all(&[b]).is_err() {
                    return;
                }
                continue;
            }
            if s.paper == Paper::Out || s.cover_open {
                // Stopped: the rest of the ticket is lost.
                if !s.current.is_empty() {
                    s.current.clear();
                    s.torn += 1;
                }
                continue;
            }
            if let Some((left, fault)) = s.fail_after {
                if bytes.len() >= left {
                    s.fail_after = None;
                    s.current.clear();
                    s.torn += 1;
                    match fault {
                        Fault::PaperOut => s.paper = Paper::Out,
                        Fault::CoverOpen => s.cover_open = true,
                        Fault::Disconnect => {
                            s.unplugged = true;
                            return;
                        }
                    }
                    continue;
                }
                s.fail_after = Some((left - bytes.len(), fault));
            }
            s.current.extend_from_slice(&bytes);
            if command == Command::Cut {
                let ticket = std::mem::take(&mut s.current);
                s.printed.push(ticket);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(text: &str) -> Vec<u8> {
        let mut j = escpos::Job::new();
        j.line(text).cut();
        j.into_bytes()
    }

    #[test]
    fn the_driver_reads_each_state_the_simulator_is_in() {
        let sim = Simulator::start().unwrap();
        let mut p = sim.printer();
        assert_eq!(p.status(), Status::READY);
        p.print(&ticket("one")).unwrap();
        assert_eq!(sim.printed().len(), 1);

        sim.set_paper(Paper::Low);
        assert_eq!(p.status().problems(), vec![Problem::PaperLow]);
        // Low paper still prints.
        p.print(&ticket("two")).unwrap();
        sim.set_paper(Paper::Out);
        assert_eq!(p.status().blocking(), Some(Problem::PaperOut));
        assert_eq!(p.print(&ticket("three")), Err(Problem::PaperOut));
        sim.set_paper(Paper::Ok);
        sim.set_cover_open(true);
        assert_eq!(p.status().blocking(), Some(Problem::CoverOpen));
        sim.set_cover_open(false);
        sim.set_battery(9);
        assert_eq!(p.status().problems(), vec![Problem::BatteryLow]);
        sim.set_battery(80);
        sim.set_unplugged(true);
        assert_eq!(p.status().blocking(), Some(Problem::Disconnected));
        assert_eq!(p.print(&ticket("four")), Err(Problem::Disconnected));
        sim.set_unplugged(false);
        assert_eq!(sim.printed().len(), 2);
    }

    #[test]
    fn a_fault_mid_ticket_is_reported_and_the_ticket_is_not_printed() {
        for (fault, problem) in [
            (Fault::PaperOut, Problem::PaperOut),
            (Fault::CoverOpen, Problem::CoverOpen),
            (Fault::Disconnect, Problem::Disconnected),
        ] {
            let sim = Simulator::start().unwrap();
            let mut p = sim.printer();
            sim.fail_after(6, fault);
            assert_eq!(p.print(&ticket("a ticket cut short")), Err(problem));
            assert!(sim.printed().is_empty());
            assert_eq!(sim.torn(), 1);
        }
    }

    #[test]
    fn the_file_printer_keeps_each_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = FilePrinter::new(dir.path()).unwrap();
        p.print(b"one").unwrap();
        p.print(b"two").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("ticket-000002.escpos")).unwrap(),
            b"two"
        );
        assert_eq!(p.status(), Status::READY);
    }
}
