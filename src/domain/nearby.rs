//! A set of named points with "which are within r metres of here?" queries, used to find
//! the open incidents an alert may join without scanning them all.

use std::collections::HashMap;

use rstar::primitives::GeomWithData;
use rstar::RTree;

use super::geometry::LocalPlane;
use super::LatLon;

/// Named points in an R-tree on a local metric plane.
#[derive(Debug)]
pub struct PointIndex {
    /// Projection of the tree.
    plane: LocalPlane,
    /// Id → position, to find the tree entry again on removal.
    points: HashMap<String, LatLon>,
    /// The points, in plane metres.
    tree: RTree<GeomWithData<[f64; 2], String>>,
}

impl PointIndex {
    /// An empty index true around `ref_lat` degrees.
    pub fn new(ref_lat: f64) -> PointIndex {
        PointIndex {
            plane: LocalPlane::new(ref_lat),
            points: HashMap::new(),
            tree: RTree::new(),
        }
    }

    /// Adds or moves `id`.
    pub fn insert(&mut self, id: &str, at: LatLon) {
        self.remove(id);
        self.tree
            .insert(GeomWithData::new(self.plane.project(at), id.to_owned()));
        self.points.insert(id.to_owned(), at);
    }

    /// Removes `id` if present.
    pub fn remove(&mut self, id: &str) {
        if let Some(at) = self.points.remove(id) {
            self.tree
                .remove(&GeomWithData::new(self.plane.project(at), id.to_owned()));
        }
    }

    /// Every point within `radius_m` of `at`, with its great-circle distance.
    ///
    /// # Units
    /// Degrees in, metres in and out.
    pub fn within(&self, at: LatLon, radius_m: f64) -> impl Iterator<Item = (&str, f64)> + '_ {
        // Search the plane a little wider than asked (projection error), then keep only
        // what the exact distance admits.
        let wide = radius_m * 1.02 + 1.0;
        self.tree
            .locate_within_distance(self.plane.project(at), wide * wide)
            .filter_map(move |e| {
                let p = self.points.get(&e.data)?;
                let d = p.distance_m(at);
                (d <= radius_m).then_some((e.data.as_str(), d))
            })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_the_points_within_the_radius() {
        let mut idx = PointIndex::new(39.5);
        let here = LatLon::new(39.5, 106.7).unwrap();
        idx.insert("near", LatLon::new(39.5009, 106.7).unwrap()); // ~100 m
        idx.insert("edge", LatLon::new(39.5016, 106.7).unwrap()); // ~178 m
        idx.insert("far", LatLon::new(39.51, 106.7).unwrap());
        let mut got: Vec<&str> = idx.within(here, 150.0).map(|(id, _)| id).collect();
        got.sort();
        assert_eq!(got, ["near"]);
        idx.insert("near", LatLon::new(39.6, 106.7).unwrap());
        assert_eq!(idx.within(here, 150.0).count(), 0, "moved away");
        idx.remove("edge");
        assert_eq!(idx.within(here, 200.0).count(), 0);
        assert_eq!(idx.len(), 2);
    }
}
