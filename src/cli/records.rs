//! Printing what the audit-record pipeline ([`crate::audit::pipeline`])
//! did; the pipeline itself decides and prints nothing.

use crate::audit::pipeline;
use crate::git::{Repo, NOTES_REF};
use crate::report::Printer;

/// Writes pending records into the notes and says what happened; a
/// failure is a warning (the records stay pending for the next run).
pub fn flush_and_report(printer: &Printer, repo: &Repo) {
    match pipeline::flush(repo, crate::clock::now()) {
        Ok(f) => {
            if f.written > 0 {
                printer.info(&format!(
                    "tollgate: {} audit record{} written to {NOTES_REF}",
                    f.written,
                    if f.written == 1 { "" } else { "s" }
                ));
            }
            for w in &f.waiting {
                printer.debug(w);
            }
            for r in &f.rejected {
                printer.warning(&format!("pending audit record refused: {r}"));
            }
        }
        Err(e) => printer.warning(&format!(
            "pending audit records could not be written ({e:#}); they stay pending"
        )),
    }
}
