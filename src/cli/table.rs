//! The one column formatter of the command tables (`status`, `check`, `reconcile --once`).

/// Lays out `rows` in columns: every cell but a row's last is padded to its column's widest cell (counted in
/// characters), cells are separated by two spaces, and each row ends with a newline. The last cell is written
/// as it is, so a row never ends in padding.
pub fn columns<R: AsRef<[String]>>(rows: &[R]) -> String {
    let n = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.as_ref().get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let row = row.as_ref();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::columns;

    fn rows(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn pads_every_column_but_the_last_to_its_widest_cell() {
        let table = [
            (
                rows(&[&["NAME", "UP"], &["leader", "yes"], &["f", "no"]]),
                "NAME    UP\nleader  yes\nf       no\n",
            ),
            // Width is counted in characters, not bytes.
            (rows(&[&["é", "x"], &["ab", "y"]]), "é   x\nab  y\n"),
            // The last cell is never padded, even when it is the widest or empty.
            (
                rows(&[&["a", "long last cell"], &["bb", ""]]),
                "a   long last cell\nbb  \n",
            ),
            (rows(&[]), ""),
        ];
        for (input, want) in table {
            assert_eq!(columns(&input), want, "{input:?}");
        }
    }

    #[test]
    fn takes_fixed_size_rows() {
        let input = [
            ["CHECK".to_string(), "RESULT".into()],
            ["license".into(), "ok".into()],
        ];
        assert_eq!(columns(&input), "CHECK    RESULT\nlicense  ok\n");
    }
}
