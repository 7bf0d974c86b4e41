//! A contraction order for the road graphs from the nodes' positions: nested dissection
//! by recursive bisection of the plane. Each part is cut in two at the median of its
//! longer side; the nodes on one side of the cut that touch the other side (the
//! separator) are contracted after both halves. Finding the order costs O(n log n)
//! whatever the roads look like, which is why it was tried against fast_paths' greedy
//! order on the generated city's walking graph, where the greedy order grows far worse
//! than linearly. Measured (docs/benchmarks/roads.md "Roads, preparation against size") it
//! prepares faster but leaves several times the shortcuts and queries 5-25 times slower,
//! so the import does not use it (`graph::prepare`); the roads bench keeps it as a
//! variant (`--prep foot order:100`) so the comparison can be repeated.

/// Parts this small are contracted in any order.
const LEAF: usize = 16;

/// The order (first contracted first) of `positions.len()` nodes joined by `edges`
/// (from, to; direction ignored).
pub fn dissection_order(positions: &[(f64, f64)], edges: &[(usize, usize)]) -> Vec<usize> {
    let n = positions.len();
    // Undirected adjacency, compressed.
    let mut start = vec![0usize; n + 1];
    for &(a, b) in edges {
        if a < n && b < n {
            start[a + 1] += 1;
            start[b + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut adj = vec![0usize; start[n]];
    for &(a, b) in edges {
        if a < n && b < n {
            adj[fill[a]] = b;
            fill[a] += 1;
            adj[fill[b]] = a;
            fill[b] += 1;
        }
    }
    let xy: Vec<[f64; 2]> = positions
        .iter()
        .map(|&(lat, lon)| [lon * lat.to_radians().cos(), lat])
        .collect();
    let mut d = Dissection {
        xy,
        start,
        adj,
        tag: vec![0; n],
        next_tag: 1,
        order: Vec::with_capacity(n),
    };
    // An explicit stack of parts instead of recursion: the depth is only about
    // log2(n), but a part's separator must wait for both halves.
    enum Job {
        Cut(Vec<usize>),
        Emit(Vec<usize>),
    }
    let mut stack = vec![Job::Cut((0..n).collect())];
    while let Some(job) = stack.pop() {
        match job {
            Job::Emit(nodes) => d.order.extend(nodes),
            Job::Cut(nodes) if nodes.len() <= LEAF => d.order.extend(nodes),
            Job::Cut(nodes) => {
                let (a, b, sep) = d.cut(nodes);
                // Popped last to first: a, then b, then the separator.
                stack.push(Job::Emit(sep));
                stack.push(Job::Cut(b));
                stack.push(Job::Cut(a));
            }
        }
    }
    d.order
}

struct Dissection {
    xy: Vec<[f64; 2]>,
    start: Vec<usize>,
    adj: Vec<usize>,
    /// Which half of the part being cut a node is in (`next_tag` and `next_tag + 1`).
    tag: Vec<u64>,
    next_tag: u64,
    order: Vec<usize>,
}

impl Dissection {
    /// Splits `nodes` into two halves with no edge between them and the separator
    /// between them, ordered so its middle is contracted last.
    fn cut(&mut self, mut nodes: Vec<usize>) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let extent = |axis: usize| {
            let (lo, hi) = nodes.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &i| {
                (lo.min(self.xy[i][axis]), hi.max(self.xy[i][axis]))
            });
            hi - lo
        };
        let axis = usize::from(extent(1) > extent(0));
        let mid = nodes.len() / 2;
        nodes.select_nth_unstable_by(mid, |&p, &q| self.xy[p][axis].total_cmp(&self.xy[q][axis]));
        let (ta, tb) = (self.next_tag, self.next_tag + 1);
        self.next_tag += 2;
        for (k, &i) in nodes.iter().enumerate() {
            self.tag[i] = if k < mid { ta } else { tb };
        }
        let touches = |i: usize, other: u64| {
            self.adj[self.start[i]..self.start[i + 1]]
                .iter()
                .any(|&j| self.tag[j] == other)
        };
        let sep_a: Vec<usize> = nodes[..mid]
            .iter()
            .copied()
            .filter(|&i| touches(i, tb))
            .collect();
        let sep_b: Vec<usize> = nodes[mid..]
            .iter()
            .copied()
            .filter(|&i| touches(i, ta))
            .collect();
        // The smaller border is the separator; its nodes leave their half.
        let mut sep = if sep_a.len() <= sep_b.len() {
            sep_a
        } else {
            sep_b
        };
        for &i in &sep {
            self.tag[i] = 0;
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in nodes {
            if self.tag[i] == ta {
                a.push(i);
            } else if self.tag[i] == tb {
                b.push(i);
            }
        }
        // Along the cut, bisected in turn, so a route along the separator climbs
        // O(log n) levels rather than walking it.
        let along = 1 - axis;
        sep.sort_by(|&p, &q| self.xy[p][along].total_cmp(&self.xy[q][along]));
        let mut ordered = Vec::with_capacity(sep.len());
        bisect_order(&sep, &mut ordered);
        (a, b, ordered)
    }
}

/// `line`'s items, the two halves before the middle, recursively.
fn bisect_order(line: &[usize], out: &mut Vec<usize>) {
    if line.is_empty() {
        return;
    }
    let mid = line.len() / 2;
    bisect_order(&line[..mid], out);
    bisect_order(&line[mid + 1..], out);
    out.push(line[mid]);
}

#[cfg(test)]
mod tests {
    use super::dissection_order;

    #[test]
    fn every_node_is_ordered_once() {
        let side = 30;
        let positions: Vec<(f64, f64)> = (0..side * side)
            .map(|i| ((i / side) as f64 * 0.001, (i % side) as f64 * 0.001))
            .collect();
        let mut edges = Vec::new();
        for r in 0..side {
            for c in 0..side {
                if c + 1 < side {
                    edges.push((r * side + c, r * side + c + 1));
                }
                if r + 1 < side {
                    edges.push((r * side + c, (r + 1) * side + c));
                }
            }
        }
        let mut order = dissection_order(&positions, &edges);
        order.sort_unstable();
        assert_eq!(order, (0..side * side).collect::<Vec<_>>());
    }
}
