//! A table row's cells, written end to end into one string.
//!
//! A switching host's report has tens of thousands of rows of up to eleven
//! cells. Made as a `String` each, with `format!`, their allocations and
//! the formatting machinery were a ninth of the instructions of a whole
//! run on a 1 GiB capture, more than laying the tables out. A row is one
//! string here, with the cells' ends beside it, and numbers are written
//! without the formatting machinery.

use std::fmt;

/// Cells a row has at most (the flows table has eleven).
pub const MAX_CELLS: usize = 12;

/// One row of a table: its cells' text, and where each cell ends.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    text: String,
    ends: [u32; MAX_CELLS],
    count: usize,
}

impl Cells {
    pub fn new() -> Self {
        Cells::default()
    }

    /// A row sized for `bytes` of text.
    pub fn with_capacity(bytes: usize) -> Self {
        Cells { text: String::with_capacity(bytes), ..Cells::default() }
    }

    /// The row of `cells`, each as it is.
    pub fn of<S: AsRef<str>>(cells: &[S]) -> Self {
        let mut row = Cells::with_capacity(cells.iter().map(|c| c.as_ref().len()).sum());
        for c in cells {
            row.cell(c.as_ref());
        }
        row
    }

    /// Empties the row, keeping its room.
    pub fn clear(&mut self) {
        self.text.clear();
        self.count = 0;
    }

    /// The text of the cell being written: what is pushed onto it is
    /// part of that cell until [`end`](Self::end).
    pub fn text(&mut self) -> &mut String {
        &mut self.text
    }

    /// Ends the cell being written; what follows starts the next one.
    pub fn end(&mut self) {
        assert!(self.count < MAX_CELLS, "a table row has at most {MAX_CELLS} cells");
        // A row's text is a few kilobytes at most: a path's hops.
        self.ends[self.count] = u32::try_from(self.text.len()).expect("a row's text under 4 GiB");
        self.count += 1;
    }

    /// Writes `s` as a whole cell.
    pub fn cell(&mut self, s: &str) {
        self.text.push_str(s);
        self.end();
    }

    /// Writes `n` in decimal as a whole cell.
    pub fn number(&mut self, n: u64) {
        push_number(&mut self.text, n);
        self.end();
    }

    /// Cells written and ended.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Cell `c`, if the row has it.
    pub fn get(&self, c: usize) -> Option<&str> {
        cell(&self.text, 0, self.ends(), c)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.count).filter_map(move |c| self.get(c))
    }

    /// The text of every cell, end to end.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where each cell ends in [`as_str`](Self::as_str).
    pub fn ends(&self) -> &[u32] {
        &self.ends[..self.count]
    }

    /// The row with `f` applied to each cell.
    pub fn map(&self, f: impl Fn(&str) -> String) -> Cells {
        let mut row = Cells::with_capacity(self.text.len());
        for c in self.iter() {
            row.cell(&f(c));
        }
        row
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

/// Rows are equal when their cells are (ends past the last cell are left
/// over from rows written before).
impl PartialEq for Cells {
    fn eq(&self, other: &Cells) -> bool {
        self.text == other.text && self.ends[..self.count] == other.ends[..other.count]
    }
}

impl Eq for Cells {}

/// For `write!` into the cell being written.
impl fmt::Write for Cells {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

/// Cell `c` of a row whose cells' text starts at `row` in `text`, end to
/// end, each ending where `ends` says (counted from `row`); none past the
/// last.
pub fn cell<'a>(text: &'a str, row: usize, ends: &[u32], c: usize) -> Option<&'a str> {
    let end = row + *ends.get(c)? as usize;
    let start = if c == 0 { row } else { row + ends[c - 1] as usize };
    Some(&text[start..end])
}

/// Pushes `n` in decimal, as `n.to_string()` writes it.
pub fn push_number(out: &mut String, n: u64) {
    super::super::decimal::push_digits(out, n, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_what_was_written_between_ends() {
        let mut row = Cells::new();
        row.cell("10.0.0.4:80");
        row.number(0);
        row.text().push_str("7 / ");
        push_number(row.text(), u64::MAX);
        row.end();
        row.cell("");
        row.number(1_000_200);
        assert_eq!(row.len(), 5);
        assert_eq!(row.to_strings(), ["10.0.0.4:80", "0", format!("7 / {}", u64::MAX).as_str(), "", "1000200"]);
        assert_eq!(row.get(5), None);
        assert_eq!(Cells::of(&row.to_strings()), row);
        assert_eq!(row.map(|c| c.replace('0', "o")).get(1), Some("o"));
        let mut again = Cells::of(&["a longer first cell", "and more"]);
        again.clear();
        again.cell("x");
        assert_eq!(again, Cells::of(&["x"]));
        assert_ne!(again, Cells::of(&["", "x"]));
    }

    #[test]
    #[should_panic(expected = "at most")]
    fn a_row_past_the_most_cells_is_a_bug() {
        let mut row = Cells::new();
        for _ in 0..=MAX_CELLS {
            row.cell("x");
        }
    }
}
