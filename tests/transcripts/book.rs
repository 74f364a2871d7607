//! Where the transcripts are in the chapters, and which part of which run each one shows.
//!
//! A checked transcript is a ` ```text ` fence with a marker on the line before it:
//!
//! ```text
//! <!-- transcript: 04_long_poll scenes 2-4 -->
//! <!-- transcript: 07_xhr_stream scenes 9, 12-15 -->
//! <!-- transcript: 09_ws_handshake c2hvcnQ= scene 1 -->
//! ```
//!
//! The words between the example's name and `scene`/`scenes` are the arguments it runs with, except
//! `(stdout)`: the block shows standard output only, without the server's log lines on standard error
//! (which a block may otherwise show where they fall, as a terminal does).
//!
//! A **scene** is a paragraph of the example's output: a run of non-blank lines, numbered from 1 in the
//! order the example prints them. A block shows one or more ranges of scenes, exactly as printed (blank
//! lines included); where it skips scenes it has one paragraph of its own that starts with `...` and
//! says what was left out. A block whose first line is `$ cargo run ...` shows that command above the
//! output.
//!
//! A block that shows part of one range of scenes says which lines, counted from the range's first
//! line: `scene 5 lines 1-2`, `scenes 4-5 lines 2-` (from line 2 to the end of the range),
//! `scene 2 lines 1, 7-14`. Where it skips lines, it has one line of its own that starts with `...`
//! (after any indentation).

/// The marker word that leaves standard error out.
pub const STDOUT_ONLY: &str = "(stdout)";

/// One marked transcript block in a chapter.
#[derive(Debug, Clone)]
pub struct Block {
    /// The chapter file name, for messages.
    pub chapter: String,
    /// 1-based line of the marker, for messages.
    pub marker_line: usize,
    /// The example's name, as in `examples/NAME.rs`.
    pub example: String,
    /// The arguments it runs with.
    pub args: Vec<String>,
    /// Whether the block shows standard output only.
    pub stdout_only: bool,
    /// The scene ranges, 1-based and inclusive.
    pub ranges: Vec<(usize, usize)>,
    /// For a block that shows part of one range of scenes: which of its lines, 1-based and inclusive,
    /// in order; a range whose end is `None` runs to the end of the scenes. Empty: all of them.
    pub lines: Vec<(usize, Option<usize>)>,
    /// The lines of the fence's content: `content_lines.0 .. content_lines.1` of the chapter.
    pub content_lines: (usize, usize),
    /// The block as it is in the chapter.
    pub text: String,
}

impl Block {
    /// The command a reader types to see this output.
    pub fn command(&self) -> String {
        match self.args.is_empty() {
            true => format!("$ cargo run --example {}", self.example),
            false => format!(
                "$ cargo run --example {} -- {}",
                self.example,
                self.args.join(" ")
            ),
        }
    }

    /// What the block should say, given one run's normalised output: the command line if the block
    /// shows one, then its scenes, with the block's own `...` paragraphs where it skips some.
    pub fn expected(&self, output: &str) -> Result<String, String> {
        let scenes = scenes(output);
        let mut elisions = paragraphs(&self.text)
            .into_iter()
            .filter(|paragraph| paragraph.starts_with("..."));
        let mut parts = Vec::new();
        let mut previous_end = None;
        for &(first, last) in &self.ranges {
            if previous_end.is_some_and(|end| first > end + 1) {
                parts.push(elisions.next().unwrap_or_else(|| "...".to_string()));
            }
            let (Some(start), Some(end)) = (scenes.get(first - 1), scenes.get(last - 1)) else {
                return Err(format!(
                    "{}:{}: {} printed {} scenes, the marker asks for {first}-{last}",
                    self.chapter,
                    self.marker_line,
                    self.example,
                    scenes.len()
                ));
            };
            let lines: Vec<&str> = output.lines().collect();
            let selected = match self.lines.as_slice() {
                [] => lines[start.0..end.1].join("\n"),
                ranges => self.selected_lines(&lines[start.0..end.1], ranges)?,
            };
            parts.push(selected);
            previous_end = Some(last);
        }
        let scenes_text = parts.join("\n\n");
        match self.text.starts_with("$ ") {
            true => Ok(format!("{}\n{scenes_text}", self.command())),
            false => Ok(scenes_text),
        }
    }
}

impl Block {
    /// The lines a marker selects from `lines` (its range of scenes), with the block's own `...` lines
    /// where it skips some.
    fn selected_lines(
        &self,
        lines: &[&str],
        ranges: &[(usize, Option<usize>)],
    ) -> Result<String, String> {
        let mut elisions = self
            .text
            .lines()
            .filter(|line| line.trim_start().starts_with("..."));
        let mut selected: Vec<&str> = Vec::new();
        let mut previous_end = None;
        for &(first, last) in ranges {
            let last = last.unwrap_or(lines.len());
            let Some(range) = lines.get(first - 1..last) else {
                return Err(format!(
                    "{}:{}: {} printed {} lines there, the marker asks for {first}-{last}",
                    self.chapter,
                    self.marker_line,
                    self.example,
                    lines.len()
                ));
            };
            if previous_end.is_some_and(|end| first > end + 1) {
                selected.push(elisions.next().unwrap_or("..."));
            }
            selected.extend(range);
            previous_end = Some(last);
        }
        Ok(selected.join("\n"))
    }
}

/// Each scene of an output as a range of its lines (`start..end`).
pub fn scenes(output: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut start = None;
    let lines: Vec<&str> = output.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        match (line.trim().is_empty(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                found.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        found.push((s, lines.len()));
    }
    found
}

fn paragraphs(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    scenes(text)
        .into_iter()
        .map(|(start, end)| lines[start..end].join("\n"))
        .collect()
}

/// Every marked block of one chapter.
pub fn blocks(chapter: &str, text: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(marker) = line
            .trim()
            .strip_prefix("<!-- transcript:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let at = format!("{chapter}:{}", i + 1);
        let (example, mut args, ranges, selected_lines) =
            parse_marker(marker).map_err(|e| format!("{at}: {e}"))?;
        let stdout_only = args.iter().any(|arg| arg == STDOUT_ONLY);
        args.retain(|arg| arg != STDOUT_ONLY);
        if lines.get(i + 1) != Some(&"```text") {
            return Err(format!(
                "{at}: a transcript marker must stand right above a ```text fence"
            ));
        }
        let end = (i + 2..lines.len())
            .find(|&j| lines[j] == "```")
            .ok_or_else(|| format!("{at}: the fence is not closed"))?;
        found.push(Block {
            chapter: chapter.to_string(),
            marker_line: i + 1,
            example,
            args,
            stdout_only,
            ranges,
            lines: selected_lines,
            content_lines: (i + 2, end),
            text: lines[i + 2..end].join("\n"),
        });
    }
    Ok(found)
}

/// What a marker says: the example, its arguments, the scene ranges, the lines of a single scene.
type Marker = (
    String,
    Vec<String>,
    Vec<(usize, usize)>,
    Vec<(usize, Option<usize>)>,
);

/// `04_long_poll --flag scenes 2-4, 7` or `11_websocket scene 5 lines 1-2` into its parts.
fn parse_marker(marker: &str) -> Result<Marker, String> {
    let words: Vec<&str> = marker.split_whitespace().collect();
    let keyword = words
        .iter()
        .position(|w| *w == "scene" || *w == "scenes")
        .ok_or("the marker names no scenes")?;
    let (example, args) = words[..keyword]
        .split_first()
        .ok_or("the marker names no example")?;
    let rest = &words[keyword + 1..];
    let (scene_words, line_words) = match rest.iter().position(|w| *w == "lines") {
        Some(at) => (&rest[..at], Some(rest[at + 1..].join(""))),
        None => (rest, None),
    };
    let ranges = parse_ranges(&scene_words.join(""))?;
    let lines = match line_words {
        None => Vec::new(),
        Some(_) if ranges.len() != 1 => {
            return Err("`lines` needs one range of scenes".to_string());
        }
        Some(words) => parse_line_ranges(&words)?,
    };
    let args = args.iter().map(|a| a.to_string()).collect();
    Ok((example.to_string(), args, ranges, lines))
}

/// `1,7-14` or `2-` into line ranges: like [`parse_ranges`], and the last may be open (`2-`).
fn parse_line_ranges(list: &str) -> Result<Vec<(usize, Option<usize>)>, String> {
    let (closed, open) = match list.strip_suffix('-') {
        Some(head) => match head.rsplit_once(',') {
            Some((closed, open)) => (Some(closed), open),
            None => (None, head),
        },
        None => (Some(list), ""),
    };
    let mut found: Vec<(usize, Option<usize>)> = match closed {
        Some(closed) => parse_ranges(closed)?
            .into_iter()
            .map(|(first, last)| (first, Some(last)))
            .collect(),
        None => Vec::new(),
    };
    if !open.is_empty() {
        let first = parse_ranges(open)?[0].0;
        if found.last().is_some_and(|&(_, end)| end >= Some(first)) {
            return Err(format!("`{list}`: ranges count from 1, in order"));
        }
        found.push((first, None));
    }
    Ok(found)
}

/// `2-4,7` into `[(2, 4), (7, 7)]`: counted from 1, in order, not overlapping.
fn parse_ranges(list: &str) -> Result<Vec<(usize, usize)>, String> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    for range in list.split(',') {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let number = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| format!("`{range}` is not a range"))
        };
        let (first, last) = (number(first)?, number(last)?);
        if first == 0 || last < first || found.last().is_some_and(|&(_, end)| first <= end) {
            return Err(format!("`{range}`: ranges count from 1, in order"));
        }
        found.push((first, last));
    }
    Ok(found)
}

/// The chapter with some blocks' contents replaced: `(block, new content)`.
pub fn rewrite(text: &str, replacements: &[(&Block, String)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut sorted: Vec<_> = replacements.iter().collect();
    sorted.sort_by_key(|(block, _)| std::cmp::Reverse(block.content_lines.0));
    for (block, content) in sorted {
        let (start, end) = block.content_lines;
        lines.splice(start..end, content.lines().map(str::to_string));
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "listening\n\none\ntwo\n\nthree\n\n\nfour\nfive\n";

    fn block(marker: &str, text: &str) -> Block {
        let chapter = format!("intro\n<!-- transcript: {marker} -->\n```text\n{text}\n```\n");
        blocks("ch.md", &chapter).unwrap().remove(0)
    }

    #[test]
    fn scenes_are_the_paragraphs_of_the_output() {
        assert_eq!(scenes(OUTPUT), [(0, 1), (2, 4), (5, 6), (8, 10)]);
    }

    #[test]
    fn a_range_of_scenes_keeps_the_blank_lines_between_them() {
        let block = block("demo scenes 3-4", "old");
        assert_eq!(block.expected(OUTPUT).unwrap(), "three\n\n\nfour\nfive");
    }

    #[test]
    fn skipped_scenes_keep_the_blocks_own_elision_and_the_command_line() {
        let block = block(
            "demo --x scenes 1, 3",
            "$ cargo run\nlistening\n\n...more...\n\nthree",
        );
        assert_eq!(
            block.expected(OUTPUT).unwrap(),
            "$ cargo run --example demo -- --x\nlistening\n\n...more...\n\nthree"
        );
        assert_eq!(block.args, ["--x"]);
        assert!(!block.stdout_only);
        let quiet = self::block("demo (stdout) --x scene 1", "x");
        assert!(quiet.stdout_only);
        assert_eq!(quiet.args, ["--x"]);
    }

    #[test]
    fn skipped_lines_keep_the_blocks_own_elision_line() {
        let output = "head\none\ntwo\nthree\nfour\n";
        let own_elision = block("demo scene 1 lines 1, 4-", "old\n  ...\nold");
        assert_eq!(
            own_elision.expected(output).unwrap(),
            "head\n  ...\nthree\nfour"
        );
        let default_elision = block("demo scene 1 lines 1-2, 5", "x");
        assert_eq!(
            default_elision.expected(output).unwrap(),
            "head\none\n...\nfour"
        );
    }

    #[test]
    fn lines_from_a_range_of_scenes_to_its_end() {
        let tail = block("demo scenes 2-3 lines 2-", "old");
        assert_eq!(tail.expected(OUTPUT).unwrap(), "two\n\nthree");
    }

    #[test]
    fn some_lines_of_one_scene() {
        let second_line = block("demo scene 4 lines 2-2", "old");
        assert_eq!(second_line.expected(OUTPUT).unwrap(), "five");
        let too_far = block("demo scene 2 lines 2-3", "old");
        assert!(too_far.expected(OUTPUT).is_err());
    }

    #[test]
    fn a_scene_the_run_did_not_print_is_an_error() {
        let error = block("demo scene 5", "x").expected(OUTPUT).unwrap_err();
        assert!(error.contains("printed 4 scenes"), "{error}");
    }

    #[test]
    fn bad_markers_are_refused_with_their_line() {
        for marker in [
            "demo",
            "demo scenes 2-1",
            "demo scenes 3, 2",
            "demo scenes x",
            "demo scenes 1, 3 lines 1",
            "demo scene 1 lines 3, 2",
            "demo scene 1 lines 3-4, 2-",
        ] {
            let chapter = format!("<!-- transcript: {marker} -->\n```text\nx\n```\n");
            let error = blocks("ch.md", &chapter).unwrap_err();
            assert!(error.starts_with("ch.md:1: "), "{marker}: {error}");
        }
        let unfenced = blocks(
            "ch.md",
            "<!-- transcript: demo scene 1 -->\n\n```text\nx\n```\n",
        );
        assert!(unfenced.is_err());
    }

    #[test]
    fn rewriting_replaces_only_the_blocks_content() {
        let chapter = "a\n<!-- transcript: d scene 1 -->\n```text\nold\nlines\n```\nb\n";
        let found = blocks("ch.md", chapter).unwrap();
        let new = rewrite(chapter, &[(&found[0], "new".to_string())]);
        assert_eq!(
            new,
            "a\n<!-- transcript: d scene 1 -->\n```text\nnew\n```\nb\n"
        );
    }
}
