//! The ESC/POS subset the unit prints with, written and read back (GLI-31
//! 3.3): text in code page 437, alignment, bold, double size, reverse,
//! raster images (`GS v 0`), feeds and the cut, and the real-time status
//! query (`DLE EOT n`).
//!
//! The reader ([`next_command`]) is the printer simulator's and the golden
//! tests': it knows each command's length, so a raster's bytes are never
//! taken for commands, and it rejects any byte it does not know, so a
//! ticket prints only what this module can account for.

/// One command of the subset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Init,
    CodePage(u8),
    /// 0 left, 1 centre, 2 right.
    Align(u8),
    Bold(bool),
    /// `GS !`: width and height multipliers, as the printer encodes them.
    Size(u8),
    Reverse(bool),
    /// Text of one line (without its line feed), decoded from code page 437.
    Text(String),
    LineFeed,
    Feed(u8),
    /// A raster image: `width` dots (a multiple of 8), rows of bits, 1 black.
    Raster {
        width: usize,
        height: usize,
        data: Vec<u8>,
    },
    Cut,
    /// `DLE EOT n`: the printer answers one status byte at once.
    Status(u8),
}

/// The characters of code page 437 above 127 that the unit's two
/// languages print (French and English).
const CP437_HIGH: &[(char, u8)] = &[
    ('Ç', 0x80),
    ('ü', 0x81),
    ('é', 0x82),
    ('â', 0x83),
    ('ä', 0x84),
    ('à', 0x85),
    ('ç', 0x87),
    ('ê', 0x88),
    ('ë', 0x89),
    ('è', 0x8A),
    ('ï', 0x8B),
    ('î', 0x8C),
    ('Ä', 0x8E),
    ('É', 0x90),
    ('ô', 0x93),
    ('ö', 0x94),
    ('û', 0x96),
    ('ù', 0x97),
    ('Ö', 0x99),
    ('Ü', 0x9A),
    ('ñ', 0xA4),
    ('Ñ', 0xA5),
];

/// Builds a print job.
#[derive(Default)]
pub struct Job {
    bytes: Vec<u8>,
}

impl Job {
    pub fn new() -> Job {
        let mut j = Job::default();
        j.bytes.extend_from_slice(&[0x1B, b'@', 0x1B, b't', 0]);
        j
    }

    pub fn align(&mut self, a: u8) -> &mut Job {
        self.bytes.extend_from_slice(&[0x1B, b'a', a.min(2)]);
        self
    }

    pub fn bold(&mut self, on: bool) -> &mut Job {
        self.bytes.extend_from_slice(&[0x1B, b'E', u8::from(on)]);
        self
    }

    /// Double width and height, or normal.
    pub fn large(&mut self, on: bool) -> &mut Job {
        self.bytes
            .extend_from_slice(&[0x1D, b'!', if on { 0x11 } else { 0 }]);
        self
    }

    pub fn reverse(&mut self, on: bool) -> &mut Job {
        self.bytes.extend_from_slice(&[0x1D, b'B', u8::from(on)]);
        self
    }

    /// One line of text: characters outside code page 437's printable set
    /// print as `?`, and control characters never reach the printer.
    pub fn line(&mut self, text: &str) -> &mut Job {
        for c in text.chars() {
            let b = match c {
                ' '..='~' => c as u8,
                _ => CP437_HIGH
                    .iter()
                    .find(|(k, _)| *k == c)
                    .map_or(b'?', |(_, b)| *b),
            };
            self.bytes.push(b);
        }
        self.bytes.push(b'\n');
        self
    }

    pub fn feed(&mut self, lines: u8) -> &mut Job {
        self.bytes.extend_from_slice(&[0x1B, b'd', lines]);
        self
    }

    /// A raster image of `rows` (each `width` booleans, true black),
    /// padded to a multiple of 8 dots.
    pub fn raster(&mut self, width: usize, rows: &[Vec<bool>]) -> &mut Job {
        let bytes_wide = width.div_ceil(8);
        let (x, y) = (bytes_wide as u16, rows.len() as u16);
        self.bytes.extend_from_slice(&[0x1D, b'v', b'0', 0]);
        self.bytes.extend_from_slice(&x.to_le_bytes());
        self.bytes.extend_from_slice(&y.to_le_bytes());
        for row in rows {
            let mut packed = vec![0u8; bytes_wide];
            for (i, &black) in row.iter().enumerate().take(width) {
                if black {
                    packed[i / 8] |= 0x80 >> (i % 8);
                }
            }
            self.bytes.extend_from_slice(&packed);
        }
        self
    }

    /// Feeds past the cutter and cuts (the end of a ticket).
    pub fn cut(&mut self) -> &mut Job {
        self.bytes.extend_from_slice(&[0x1D, b'V', 66, 0]);
        self
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

fn decode_high(b: u8) -> char {
    CP437_HIGH
        .iter()
        .find(|(_, k)| *k == b)
        .map_or('?', |(c, _)| *c)
}

/// Reads the command at the start of `bytes`: `Ok(None)` when more bytes
/// are needed, else the command and how many bytes it took. Text runs to
/// the line feed.
pub fn next_command(bytes: &[u8]) -> Result<Option<(Command, usize)>, String> {
    let Some(&b0) = bytes.first() else {
        return Ok(None);
    };
    let need = |n: usize| bytes.len() >= n;
    let arg = |i: usize| bytes[i];
    Ok(Some(match b0 {
        0x1B => {
            if !need(2) {
                return Ok(None);
            }
            match arg(1) {
                b'@' => (Command::Init, 2),
                b't' | b'a' | b'E' | b'd' => {
                    if !need(3) {
                        return Ok(None);
                    }
                    let n = arg(2);
                    let c = match arg(1) {
                        b't' => Command::CodePage(n),
                        b'a' => Command::Align(n),
                        b'E' => Command::Bold(n & 1 == 1),
                        _ => Command::Feed(n),
                    };
                    (c, 3)
                }
                other => return Err(format!("unknown command ESC 0x{other:02x}")),
            }
        }
        0x1D => {
            if !need(2) {
                return Ok(None);
            }
            match arg(1) {
                b'!' | b'B' => {
                    if !need(3) {
                        return Ok(None);
                    }
                    let c = if arg(1) == b'!' {
                        Command::Size(arg(2))
                    } else {
                        Command::Reverse(arg(2) & 1 == 1)
                    };
                    (c, 3)
                }
                b'V' => {
                    if !need(3) {
                        return Ok(None);
                    }
                    match arg(2) {
                        0 | 1 | 48 | 49 => (Command::Cut, 3),
                        65 | 66 => {
                            if !need(4) {
                                return Ok(None);
                            }
                            (Command::Cut, 4)
                        }
                        m => return Err(format!("unknown cut mode {m}")),
                    }
                }
                b'v' => {
                    if !need(8) {
                        return Ok(None);
                    }
                    if arg(2) != b'0' || arg(3) > 3 {
                        return Err("unknown raster command".into());
                    }
                    let x = usize::from(u16::from_le_bytes([arg(4), arg(5)]));
                    let y = usize::from(u16::from_le_bytes([arg(6), arg(7)]));
                    if x == 0 || y == 0 || x > 128 || y > 4096 {
                        return Err(format!("a raster of {x} bytes by {y} rows is out of range"));
                    }
                    let len = 8 + x * y;
                    if !need(len) {
                        return Ok(None);
                    }
                    (
                        Command::Raster {
                            width: x * 8,
                            height: y,
                            data: bytes[8..len].to_vec(),
                        },
                        len,
                    )
                }
                other => return Err(format!("unknown command GS 0x{other:02x}")),
            }
        }
        0x10 => {
            if !need(3) {
                return Ok(None);
            }
            if arg(1) != 0x04 || !(1..=4).contains(&arg(2)) {
                return Err("unknown DLE command".into());
            }
            (Command::Status(arg(2)), 3)
        }
        b'\n' => (Command::LineFeed, 1),
        _ => {
            let end = bytes
                .iter()
                .position(|&b| b == b'\n' || b < 0x20 || b == 0x7F);
            let Some(end) = end else {
                return Ok(None);
            };
            if end == 0 {
                return Err(format!("unknown control byte 0x{b0:02x}"));
            }
            let text = bytes[..end]
                .iter()
                .map(|&b| if b < 0x80 { b as char } else { decode_high(b) })
                .collect();
            (Command::Text(text), end)
        }
    }))
}

/// Reads a whole job into commands.
pub fn parse(mut bytes: &[u8]) -> Result<Vec<Command>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        match next_command(bytes)? {
            Some((c, n)) => {
                out.push(c);
                bytes = &bytes[n..];
            }
            None => return Err("the job ends inside a command".into()),
        }
    }
    Ok(out)
}

/// A raster's rows as booleans (true black).
pub fn raster_rows(width: usize, height: usize, data: &[u8]) -> Vec<Vec<bool>> {
    let bytes_wide = width / 8;
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| data[y * bytes_wide + x / 8] & (0x80 >> (x % 8)) != 0)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reads_back_as_written() {
        let mut j = Job::new();
        j.align(1)
            .bold(true)
            .line("Tirage élevé à 14:05")
            .bold(false);
        j.raster(10, &[vec![true; 10], vec![false; 10]]);
        j.line("\u{1b}@ control?").cut();
        let c = parse(j.bytes()).unwrap();
        assert_eq!(c[0], Command::Init);
        assert!(c.contains(&Command::Text("Tirage élevé à 14:05".into())));
        // A control character in the text never reaches the printer as one.
        assert!(c.contains(&Command::Text("?@ control?".into())));
        let raster = c
            .iter()
            .find_map(|c| match c {
                Command::Raster {
                    width,
                    height,
                    data,
                } => Some(raster_rows(*width, *height, data)),
                _ => None,
            })
            .unwrap();
        assert_eq!(raster[0][..10], [true; 10]);
        assert!(!raster[0][10] && !raster[1][0]);
        assert_eq!(c.last(), Some(&Command::Cut));
        assert!(parse(&[0x1B, b'Z']).is_err());
        assert!(parse(&[0x1D, b'v', b'0', 0, 1, 0]).is_err());
        assert!(parse(&[0x07]).is_err());
    }
}
