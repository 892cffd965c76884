//! The controlling terminal (`/dev/tty`): prompts that must reach a person,
//! never stdout or stderr (which may be a log, a pipe or an agent).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::Duration;

/// An open controlling terminal.
pub struct Tty {
    file: File,
}

impl Tty {
    /// Opens `/dev/tty`; `None` when the process has no controlling terminal.
    pub fn open() -> Option<Tty> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()
            .map(|file| Tty { file })
    }

    /// Writes text to the terminal.
    pub fn write(&mut self, text: &str) -> std::io::Result<()> {
        self.file.write_all(text.as_bytes())?;
        self.file.flush()
    }

    /// Reads one line (without its line ending); `None` on timeout, end of
    /// input or error. The reader runs on its own thread so a person who
    /// walks away cannot hold a hook open forever.
    pub fn read_line(&mut self, timeout: Duration) -> Option<String> {
        let file = self.file.try_clone().ok()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let n = BufReader::new(file).read_line(&mut line);
            let _ = tx.send(n.ok().filter(|&n| n > 0).map(|_| line));
        });
        rx.recv_timeout(timeout)
            .ok()
            .flatten()
            .map(|l| l.trim_end_matches(['\n', '\r']).to_string())
    }
}
