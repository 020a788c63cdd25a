//! The algorithms behind the line and polygon functions: measures,
//! containment, closest points, densify, simplify, centroids, buffers and
//! the boolean operations (planar topology from `geo`, with every new
//! crossing vertex moved onto the great circles it lies on).

use super::shape::{LngLat, Polygon, Ring};
use super::sphere::{self, EARTH_RADIUS, V3};
use geo::{BooleanOps, Buffer};

fn v3s(points: &[LngLat]) -> Vec<V3> {
    points.iter().copied().map(sphere::to_v3).collect()
}

/// Each edge of a line, as unit vectors.
fn line_edges(line: &[LngLat]) -> impl Iterator<Item = (V3, V3)> + '_ {
    line.windows(2).map(|w| (sphere::to_v3(w[0]), sphere::to_v3(w[1])))
}

/// Each edge of a closed ring, as unit vectors.
fn ring_edges(ring: &[LngLat]) -> impl Iterator<Item = (V3, V3)> + '_ {
    (0..ring.len()).map(move |i| (sphere::to_v3(ring[i]), sphere::to_v3(ring[(i + 1) % ring.len()])))
}

/// The length of lines, in meters.
pub fn lines_length(lines: &[Vec<LngLat>]) -> f64 {
    lines.iter().flat_map(|l| line_edges(l)).map(|(a, b)| sphere::angle(a, b)).sum::<f64>() * EARTH_RADIUS
}

/// The perimeter of polygons (every ring), in meters.
pub fn polygons_perimeter(polygons: &[Polygon]) -> f64 {
    polygons.iter().flatten().flat_map(|r| ring_edges(r)).map(|(a, b)| sphere::angle(a, b)).sum::<f64>() * EARTH_RADIUS
}

/// The area a ring encloses (the smaller side), in steradians.
fn ring_area(ring: &Ring) -> f64 {
    let a = sphere::signed_ring_area(&v3s(ring)).abs();
    a.min(4.0 * std::f64::consts::PI - a)
}

/// The area of one polygon (shell less holes), in square meters.
fn polygon_area(polygon: &Polygon) -> f64 {
    let shell = ring_area(&polygon[0]);
    let holes: f64 = polygon[1..].iter().map(ring_area).sum();
    (shell - holes).max(0.0) * EARTH_RADIUS * EARTH_RADIUS
}

/// The area of polygons' union, in square meters.
pub fn polygons_area(polygons: &[Polygon]) -> f64 {
    let union = if polygons.len() > 1 { union_polygons(polygons) } else { polygons.to_vec() };
    union.iter().map(polygon_area).sum()
}

/// Whether the point is inside one polygon (in its shell, outside its holes).
fn polygon_contains(polygon: &Polygon, p: V3) -> bool {
    sphere::ring_contains(&v3s(&polygon[0]), p) && !polygon[1..].iter().any(|h| sphere::ring_contains(&v3s(h), p))
}

/// Whether the point is inside any of the polygons.
pub fn polygons_contain(polygons: &[Polygon], p: LngLat) -> bool {
    let v = sphere::to_v3(p);
    polygons.iter().any(|poly| polygon_contains(poly, v))
}

/// The point of the edges closest to `p`, and its angular distance.
fn closest_on_edges(p: V3, edges: impl Iterator<Item = (V3, V3)>) -> Option<(V3, f64)> {
    edges
        .map(|(a, b)| {
            let q = sphere::closest_on_arc(p, a, b);
            (q, sphere::angle(p, q))
        })
        .min_by(|x, y| x.1.total_cmp(&y.1))
}

/// The point of the lines closest to `p`, and its distance in meters.
pub fn closest_on_lines(lines: &[Vec<LngLat>], p: LngLat) -> Option<(LngLat, f64)> {
    let (q, d) = closest_on_edges(sphere::to_v3(p), lines.iter().flat_map(|l| line_edges(l)))?;
    Some((sphere::to_lnglat(q), d * EARTH_RADIUS))
}

/// The point of the polygons closest to `p` (itself when inside), and its distance in meters.
pub fn closest_on_polygons(polygons: &[Polygon], p: LngLat) -> Option<(LngLat, f64)> {
    if polygons_contain(polygons, p) {
        return Some((p, 0.0));
    }
    let (q, d) = closest_on_edges(sphere::to_v3(p), polygons.iter().flatten().flat_map(|r| ring_edges(r)))?;
    Some((sphere::to_lnglat(q), d * EARTH_RADIUS))
}

/// The point at `fraction` of the line's length.
pub fn interpolate(lines: &[Vec<LngLat>], fraction: f64) -> Option<LngLat> {
    if !(0.0..=1.0).contains(&fraction) {
        return None;
    }
    let edges: Vec<(V3, V3, f64)> =
        lines.iter().flat_map(|l| line_edges(l)).map(|(a, b)| (a, b, sphere::angle(a, b))).collect();
    let total: f64 = edges.iter().map(|e| e.2).sum();
    let mut left = fraction * total;
    for &(a, b, len) in &edges {
        if left <= len {
            let t = if len > 0.0 { left / len } else { 0.0 };
            return Some(sphere::to_lnglat(sphere::slerp(a, b, t)));
        }
        left -= len;
    }
    edges.last().map(|e| sphere::to_lnglat(e.1))
}

/// The fraction of the line's length at the point of the line closest to `p`.
pub fn locate(lines: &[Vec<LngLat>], p: LngLat) -> Option<f64> {
    let pv = sphere::to_v3(p);
    let (mut best, mut best_d, mut before, mut total) = (0.0, f64::INFINITY, 0.0, 0.0);
    for (a, b) in lines.iter().flat_map(|l| line_edges(l)) {
        let q = sphere::closest_on_arc(pv, a, b);
        let d = sphere::angle(pv, q);
        if d < best_d {
            best_d = d;
            best = before + sphere::angle(a, q);
        }
        let len = sphere::angle(a, b);
        before += len;
        total += len;
    }
    (total > 0.0).then(|| best / total)
}

/// The centroid of lines (S2's polyline centroid: each edge weighs its length).
pub fn lines_centroid(lines: &[Vec<LngLat>]) -> Option<LngLat> {
    let mut sum = [0.0; 3];
    for (a, b) in lines.iter().flat_map(|l| line_edges(l)) {
        let (vsum, vdiff) = (sphere::add(a, b), sphere::sub(a, b));
        let (cos2, sin2) = (sphere::dot(vsum, vsum), sphere::dot(vdiff, vdiff));
        if cos2 > 0.0 {
            sum = sphere::add(sum, sphere::scale(vsum, (sin2 / cos2).sqrt()));
        }
    }
    sphere::normalize(sum).map(sphere::to_lnglat)
}

/// The centroid of polygons (S2's true centroid; holes subtract).
pub fn polygons_centroid(polygons: &[Polygon]) -> Option<LngLat> {
    let mut sum = [0.0; 3];
    for polygon in polygons {
        for (i, ring) in polygon.iter().enumerate() {
            let v = v3s(ring);
            let mut c = [0.0; 3];
            for j in 1..v.len() - 1 {
                c = sphere::add(c, sphere::true_centroid(v[0], v[j], v[j + 1]));
            }
            // Counterclockwise shells count positive, holes negative.
            let ccw = sphere::signed_ring_area(&v) >= 0.0;
            let sign = if ccw == (i == 0) { 1.0 } else { -1.0 };
            sum = sphere::add(sum, sphere::scale(c, sign));
        }
    }
    sphere::normalize(sum).map(sphere::to_lnglat)
}

/// Splits the planar edge `a`–`b` at its coordinate midpoint, recursively,
/// until the great-circle arc between neighbours strays at most
/// `tolerance` meters from the planar edge; pushes the points after `a`.
fn densify_edge(a: LngLat, b: LngLat, tolerance: f64, depth: u32, out: &mut Vec<LngLat>) {
    let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let (va, vb, vm) = (sphere::to_v3(a), sphere::to_v3(b), sphere::to_v3(mid));
    let deviation = sphere::angle(vm, sphere::closest_on_arc(vm, va, vb)) * EARTH_RADIUS;
    if deviation > tolerance && depth < 30 {
        densify_edge(a, mid, tolerance, depth + 1, out);
        densify_edge(mid, b, tolerance, depth + 1, out);
    } else {
        out.push(b);
    }
}

/// A line (or a closed ring when `closed`) with planar edges made geodesic.
/// With `preserve_crossing`, an edge whose longitudes differ by more than
/// 180° crosses the antimeridian (the planar edge is taken the short way
/// round); otherwise it runs across the map as its coordinates say.
pub fn densify(points: &[LngLat], tolerance: f64, closed: bool, preserve_crossing: bool) -> Vec<LngLat> {
    let mut out = vec![points[0]];
    let n = points.len();
    let edges = if closed { n } else { n - 1 };
    for i in 0..edges {
        let (a, mut b) = (points[i], points[(i + 1) % n]);
        if preserve_crossing && (b[0] - a[0]).abs() > 180.0 {
            b[0] += if b[0] < a[0] { 360.0 } else { -360.0 };
        }
        densify_edge(a, b, tolerance, 0, &mut out);
    }
    for p in &mut out {
        if p[0] > 180.0 {
            p[0] -= 360.0;
        } else if p[0] < -180.0 {
            p[0] += 360.0;
        }
    }
    if closed {
        out.pop();
    }
    out
}

/// Douglas–Peucker on the sphere: the vertices of `points[first..=last]`
/// farther than `tolerance` radians from the simplified arcs.
fn douglas_peucker(points: &[V3], first: usize, last: usize, tolerance: f64, keep: &mut [bool]) {
    if last <= first + 1 {
        return;
    }
    let (mut far, mut far_d) = (first, -1.0);
    for i in first + 1..last {
        let d = sphere::angle(points[i], sphere::closest_on_arc(points[i], points[first], points[last]));
        if d > far_d {
            far = i;
            far_d = d;
        }
    }
    if far_d > tolerance {
        keep[far] = true;
        douglas_peucker(points, first, far, tolerance, keep);
        douglas_peucker(points, far, last, tolerance, keep);
    }
}

/// A line simplified to within `tolerance` meters; None when it collapses
/// to a point (all of it within the tolerance of its first vertex).
pub fn simplify_line(line: &[LngLat], tolerance: f64) -> Option<Vec<LngLat>> {
    let v = v3s(line);
    let tol = tolerance / EARTH_RADIUS;
    if v.iter().all(|p| sphere::angle(*p, v[0]) <= tol) {
        return None;
    }
    let mut keep = vec![false; v.len()];
    keep[0] = true;
    keep[v.len() - 1] = true;
    douglas_peucker(&v, 0, v.len() - 1, tol, &mut keep);
    Some(line.iter().zip(keep).filter(|(_, k)| *k).map(|(p, _)| *p).collect())
}

/// A ring simplified to within `tolerance` meters; None when fewer than
/// three vertices remain.
fn simplify_ring(ring: &Ring, tolerance: f64) -> Option<Ring> {
    let mut closed = ring.clone();
    closed.push(ring[0]);
    let mut simplified = simplify_line(&closed, tolerance)?;
    simplified.pop();
    (simplified.len() >= 3).then_some(simplified)
}

/// Polygons simplified to within `tolerance` meters; holes that collapse
/// are dropped, None when a shell collapses.
pub fn simplify_polygons(polygons: &[Polygon], tolerance: f64) -> Option<Vec<Polygon>> {
    polygons
        .iter()
        .map(|p| {
            let mut rings = vec![simplify_ring(&p[0], tolerance)?];
            rings.extend(p[1..].iter().filter_map(|h| simplify_ring(h, tolerance)));
            Some(rings)
        })
        .collect()
}

/// The number of vertices of a circle of `radius` meters whose chords
/// stray at most `tolerance` meters from it.
fn circle_vertices(radius: f64, tolerance: f64) -> usize {
    let half_angle = (1.0 - (tolerance / radius).min(1.0)).acos();
    ((std::f64::consts::PI / half_angle).ceil() as usize).clamp(8, 4096)
}

/// A circle of `radius` meters around `center`, as a counterclockwise ring.
pub fn circle(center: LngLat, radius: f64, tolerance: f64) -> Ring {
    let n = circle_vertices(radius, tolerance);
    (0..n).map(|i| sphere::destination(center, -2.0 * std::f64::consts::PI * i as f64 / n as f64, radius)).collect()
}

/// A local planar frame in meters around a reference point, for buffering.
struct LocalFrame {
    origin: LngLat,
    meters_per_degree_lng: f64,
    meters_per_degree_lat: f64,
}

impl LocalFrame {
    fn around(origin: LngLat) -> LocalFrame {
        let m = EARTH_RADIUS * std::f64::consts::PI / 180.0;
        LocalFrame {
            origin,
            meters_per_degree_lng: m * origin[1].to_radians().cos().max(1e-6),
            meters_per_degree_lat: m,
        }
    }

    fn project(&self, p: LngLat) -> (f64, f64) {
        ((p[0] - self.origin[0]) * self.meters_per_degree_lng, (p[1] - self.origin[1]) * self.meters_per_degree_lat)
    }

    fn unproject(&self, c: geo::Coord<f64>) -> LngLat {
        [self.origin[0] + c.x / self.meters_per_degree_lng, self.origin[1] + c.y / self.meters_per_degree_lat]
    }

    fn polygons_back(&self, result: &geo::MultiPolygon<f64>) -> Option<Vec<Polygon>> {
        let back = geo::MultiPolygon(
            result
                .0
                .iter()
                .map(|p| {
                    let ring = |r: &geo::LineString<f64>| {
                        geo::LineString::from(
                            r.coords().map(|c| self.unproject(*c)).map(|p| (p[0], p[1])).collect::<Vec<_>>(),
                        )
                    };
                    geo::Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
                })
                .collect(),
        );
        let polygons = super::shape::from_geo_multipolygon(&back);
        let valid = polygons.iter().flatten().flatten().all(|p| super::shape::valid_point(p[0], p[1]));
        (!polygons.is_empty() && valid).then_some(polygons)
    }
}

/// Lines grown by `radius` meters (planar buffer in a local frame).
pub fn buffer_lines(lines: &[Vec<LngLat>], radius: f64) -> Option<Vec<Polygon>> {
    let frame = LocalFrame::around(lines[0][0]);
    let planar = geo::MultiLineString(
        lines.iter().map(|l| geo::LineString::from(l.iter().map(|p| frame.project(*p)).collect::<Vec<_>>())).collect(),
    );
    frame.polygons_back(&planar.buffer(radius))
}

/// Polygons grown by `radius` meters (planar buffer in a local frame).
pub fn buffer_polygons(polygons: &[Polygon], radius: f64) -> Option<Vec<Polygon>> {
    let frame = LocalFrame::around(polygons[0][0][0]);
    let ring = |r: &Ring| {
        let mut points: Vec<(f64, f64)> = r.iter().map(|p| frame.project(*p)).collect();
        points.push(points[0]);
        geo::LineString::from(points)
    };
    let planar = geo::MultiPolygon(
        polygons.iter().map(|p| geo::Polygon::new(ring(&p[0]), p[1..].iter().map(ring).collect())).collect(),
    );
    frame.polygons_back(&planar.buffer(radius))
}

/// Every input edge, for moving crossing vertices onto great circles.
fn polygon_edges(polygons: &[Polygon]) -> Vec<(LngLat, LngLat)> {
    polygons.iter().flatten().flat_map(|r| (0..r.len()).map(move |i| (r[i], r[(i + 1) % r.len()]))).collect()
}

fn line_edge_list(lines: &[Vec<LngLat>]) -> Vec<(LngLat, LngLat)> {
    lines.iter().flat_map(|l| l.windows(2).map(|w| (w[0], w[1]))).collect()
}

/// The planar distance from `p` to segment `a`–`b`, in degrees.
fn planar_distance(p: LngLat, a: LngLat, b: LngLat) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    (p[0] - a[0] - t * dx).hypot(p[1] - a[1] - t * dy)
}

/// How far (in degrees) a vertex out of `geo`'s boolean operations may lie
/// from the input vertex or edges it came from: `i_overlay` rounds
/// coordinates to a fixed grid.
const SNAP_DEGREES: f64 = 1e-7;

/// Puts back a vertex that a planar boolean operation produced: an input
/// vertex it rounded comes back exactly, and a vertex where two input
/// edges cross moves onto the crossing of their great circles (Kusto's
/// edges are geodesics).
fn to_great_circle_crossing(p: LngLat, edges: &[(LngLat, LngLat)]) -> LngLat {
    let planar = |q: LngLat| (q[0] - p[0]).hypot(q[1] - p[1]);
    if let Some(v) = edges
        .iter()
        .flat_map(|e| [e.0, e.1])
        .filter(|v| planar(*v) < SNAP_DEGREES)
        .min_by(|a, b| planar(*a).total_cmp(&planar(*b)))
    {
        return v;
    }
    let on: Vec<&(LngLat, LngLat)> = edges.iter().filter(|(a, b)| planar_distance(p, *a, *b) < SNAP_DEGREES).collect();
    let mut best: Option<(LngLat, f64)> = None;
    for (i, e) in on.iter().enumerate() {
        for f in &on[i + 1..] {
            let (a, b, c, d) = (sphere::to_v3(e.0), sphere::to_v3(e.1), sphere::to_v3(f.0), sphere::to_v3(f.1));
            if sphere::norm(sphere::cross(sphere::cross(a, b), sphere::cross(c, d))) < 1e-12 {
                continue;
            }
            let Some(x) = sphere::arcs_crossing(a, b, c, d) else { continue };
            // The great circles may cross outside the arcs, where the
            // planar edges did not.
            let on_arc = |x: V3, a: V3, b: V3| sphere::angle(a, x) + sphere::angle(x, b) - sphere::angle(a, b) < 1e-12;
            if !on_arc(x, a, b) || !on_arc(x, c, d) {
                continue;
            }
            let x = sphere::to_lnglat(x);
            let distance = planar(x);
            if best.is_none_or(|(_, d)| distance < d) {
                best = Some((x, distance));
            }
        }
    }
    best.map_or(p, |(x, _)| x)
}

/// Where `p` lies along a ring's boundary (edges as great-circle arcs):
/// edge index plus the fraction along it, or None when it is on no edge.
fn position_on_ring(p: LngLat, ring: &Ring) -> Option<f64> {
    const ON_EDGE_RADIANS: f64 = 1e-10;
    let pv = sphere::to_v3(p);
    (0..ring.len()).find_map(|i| {
        let (a, b) = (sphere::to_v3(ring[i]), sphere::to_v3(ring[(i + 1) % ring.len()]));
        let q = sphere::closest_on_arc(pv, a, b);
        if sphere::angle(pv, q) >= ON_EDGE_RADIANS {
            return None;
        }
        let len = sphere::angle(a, b);
        Some(i as f64 + if len > 0.0 { sphere::angle(a, q) / len } else { 0.0 })
    })
}

/// Whether `p` lies on an edge of the polygons (within a millimeter or so).
fn on_boundary(polygons: &[Polygon], p: LngLat) -> bool {
    polygons.iter().flatten().any(|r| position_on_ring(p, r).is_some())
}

/// The vertices of `a` touching `b`'s boundary (and the other way round)
/// that are not part of the area the polygons share: the points where
/// they only touch.
pub fn touching_points(a: &[Polygon], b: &[Polygon], shared: &[Polygon]) -> Vec<LngLat> {
    let mut points: Vec<LngLat> = Vec::new();
    let vertices = |x: &[Polygon]| x.iter().flatten().flatten().copied().collect::<Vec<_>>();
    for (from, other) in [(a, b), (b, a)] {
        for v in vertices(from) {
            if on_boundary(other, v) && !on_boundary(shared, v) && !polygons_contain(shared, v) && !points.contains(&v)
            {
                points.push(v);
            }
        }
    }
    points
}

/// Twice the planar signed area of a ring: positive when counterclockwise.
fn planar_signed_area(ring: &Ring) -> f64 {
    (0..ring.len())
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// A result ring as Kusto writes it: shells counterclockwise, holes
/// clockwise, starting where the ring first meets the first input shell.
fn arrange_ring(mut ring: Ring, shell: bool, first_shell: &Ring) -> Ring {
    if (planar_signed_area(&ring) > 0.0) != shell {
        ring.reverse();
    }
    let start = ring
        .iter()
        .enumerate()
        .filter_map(|(i, p)| position_on_ring(*p, first_shell).map(|pos| (i, pos)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(i, _)| i);
    ring.rotate_left(start);
    ring
}

fn refine_polygons(polygons: Vec<Polygon>, edges: &[(LngLat, LngLat)], first_shell: &Ring) -> Vec<Polygon> {
    polygons
        .into_iter()
        .map(|p| {
            p.into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let ring = r.into_iter().map(|v| to_great_circle_crossing(v, edges)).collect();
                    arrange_ring(ring, i == 0, first_shell)
                })
                .collect()
        })
        .collect()
}

/// The vertex count S2 ranks a polygon by in `DestructiveUnion`.
fn vertex_count(polygons: &[Polygon]) -> usize {
    polygons.iter().flatten().map(Vec::len).sum()
}

/// The union of polygons, merged the way Kusto's S2 library does it
/// (`S2Polygon::DestructiveUnion`): repeatedly the two operands with the
/// fewest vertices (ties in input order), the result ranked by the sum of
/// their counts. The merge order decides where each result ring starts.
pub fn union_polygons(polygons: &[Polygon]) -> Vec<Polygon> {
    let mut queue: Vec<(usize, Vec<Polygon>)> =
        polygons.iter().map(|p| (vertex_count(std::slice::from_ref(p)), vec![p.clone()])).collect();
    queue.sort_by_key(|(count, _)| *count);
    if queue.len() == 1 {
        return union_pair(&queue[0].1, &[]);
    }
    while queue.len() > 1 {
        let (count_a, a) = queue.remove(0);
        let (count_b, b) = queue.remove(0);
        let count = count_a + count_b;
        let union = union_pair(&a, &b);
        let at = queue.iter().position(|(c, _)| *c > count).unwrap_or(queue.len());
        queue.insert(at, (count, union));
    }
    queue.pop().map(|(_, u)| u).unwrap_or_default()
}

/// One union step: the planar union with its crossing vertices moved onto
/// the great circles, each ring oriented and started as S2's builder
/// leaves it, and the polygons in the order of their first edges.
fn union_pair(a: &[Polygon], b: &[Polygon]) -> Vec<Polygon> {
    let union = super::shape::to_geo_multipolygon(a).union(&super::shape::to_geo_multipolygon(b));
    let input: Vec<Polygon> = a.iter().chain(b).cloned().collect();
    let edges = polygon_edges(&input);
    let oriented = |r: Ring, shell: bool| {
        let ring: Ring = r.into_iter().map(|v| to_great_circle_crossing(v, &edges)).collect();
        let mut ring = with_input_vertices(ring, &edges);
        if (planar_signed_area(&ring) > 0.0) != shell {
            ring.reverse();
        }
        ring
    };
    let mut out: Vec<(usize, Polygon)> = Vec::new();
    for polygon in super::shape::from_geo_multipolygon(&union) {
        let mut rings = polygon.into_iter();
        let Some(shell) = rings.next() else { continue };
        let holes: Vec<Ring> = rings.map(|h| s2_loop_order(oriented(h, false), &edges)).collect();
        // S2 builds simple loops: a shell that passes a vertex twice (two
        // areas touching at a corner) is two loops.
        for (i, part) in simple_loops(oriented(shell, true)).into_iter().enumerate() {
            let part = s2_loop_order(part, &edges);
            let first = input_edge_id(part[0], part[1 % part.len()], &edges);
            let mut rings = vec![part];
            if i == 0 {
                rings.extend(holes.iter().cloned());
            }
            out.push((first, rings));
        }
    }
    out.sort_by_key(|(first, _)| *first);
    out.into_iter().map(|(_, p)| p).collect()
}

/// A ring with the input vertices that lie on its edges put back: `geo`
/// drops vertices between collinear edges, S2 keeps every input vertex.
fn with_input_vertices(ring: Ring, edges: &[(LngLat, LngLat)]) -> Ring {
    const ON_SEGMENT_DEGREES: f64 = 1e-9;
    let n = ring.len();
    let mut out: Ring = Vec::with_capacity(n);
    for i in 0..n {
        let (p, q) = (ring[i], ring[(i + 1) % n]);
        out.push(p);
        let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
        let len2 = dx * dx + dy * dy;
        if len2 == 0.0 {
            continue;
        }
        let mut between: Vec<(f64, LngLat)> = edges
            .iter()
            .map(|e| e.0)
            .filter(|v| *v != p && *v != q && planar_distance(*v, p, q) < ON_SEGMENT_DEGREES)
            .map(|v| (((v[0] - p[0]) * dx + (v[1] - p[1]) * dy) / len2, v))
            .filter(|(t, _)| *t > 0.0 && *t < 1.0)
            .collect();
        between.sort_by(|a, b| a.0.total_cmp(&b.0));
        between.dedup_by(|a, b| a.1 == b.1);
        out.extend(between.into_iter().map(|(_, v)| v));
    }
    out
}

/// A ring cut into simple loops at the vertices it passes more than once,
/// as `S2Builder::Graph::GetDirectedLoops` peels them off.
fn simple_loops(ring: Ring) -> Vec<Ring> {
    let mut loops: Vec<Ring> = Vec::new();
    let mut path: Ring = Vec::with_capacity(ring.len());
    for v in ring {
        if let Some(k) = path.iter().position(|p| *p == v) {
            loops.push(path.split_off(k));
        }
        path.push(v);
    }
    if !path.is_empty() {
        loops.push(path);
    }
    loops.retain(|l| l.len() >= 3);
    loops
}

/// The lowest id of the input edges (numbered through every ring of the
/// operands, in order) that the result edge `p`–`q` lies on: S2 tags each
/// output edge with it. Edges on no input edge rank last.
fn input_edge_id(p: LngLat, q: LngLat, edges: &[(LngLat, LngLat)]) -> usize {
    const ON_EDGE_RADIANS: f64 = 1e-9;
    let Some(mid) = sphere::normalize(sphere::add(sphere::to_v3(p), sphere::to_v3(q))) else { return usize::MAX };
    edges
        .iter()
        .position(|(a, b)| {
            let on = sphere::closest_on_arc(mid, sphere::to_v3(*a), sphere::to_v3(*b));
            sphere::angle(mid, on) < ON_EDGE_RADIANS
        })
        .unwrap_or(usize::MAX)
}

/// The S2 leaf cell holding a vertex: S2's builder numbers vertices in
/// this order, and assembles each loop from its lowest-numbered vertex.
fn leaf_cell(p: LngLat) -> u64 {
    s2::cellid::CellID::from(s2::latlng::LatLng::from_degrees(p[1], p[0])).0
}

/// Rotates a result ring the way `S2Builder::Graph::CanonicalizeLoopOrder`
/// does: walking from the loop's lowest-numbered vertex, the edge with the
/// highest input edge id (its first run, where the input edge was cut in
/// pieces) becomes the last edge, so the input's cyclic order survives.
fn s2_loop_order(mut ring: Ring, edges: &[(LngLat, LngLat)]) -> Ring {
    let n = ring.len();
    if n < 2 {
        return ring;
    }
    let start = (0..n).min_by_key(|&i| leaf_cell(ring[i])).unwrap_or(0);
    ring.rotate_left(start);
    let ids: Vec<usize> = (0..n).map(|i| input_edge_id(ring[i], ring[(i + 1) % n], edges)).collect();
    let (mut last, mut saw_gap) = (0, false);
    for i in 1..n {
        if ids[i] < ids[last] {
            saw_gap = true;
        } else if ids[i] > ids[last] || !saw_gap {
            last = i;
            saw_gap = false;
        }
    }
    ring.rotate_left((last + 1) % n);
    ring
}

/// The intersection of two sets of polygons.
pub fn intersect_polygons(a: &[Polygon], b: &[Polygon]) -> Vec<Polygon> {
    let (ga, gb) = (super::shape::to_geo_multipolygon(a), super::shape::to_geo_multipolygon(b));
    let edges: Vec<_> = polygon_edges(a).into_iter().chain(polygon_edges(b)).collect();
    refine_polygons(super::shape::from_geo_multipolygon(&ga.intersection(&gb)), &edges, &a[0][0])
}

/// The parts of lines inside polygons.
pub fn clip_lines(lines: &[Vec<LngLat>], polygons: &[Polygon]) -> Vec<Vec<LngLat>> {
    let gp = super::shape::to_geo_multipolygon(polygons);
    let gl = geo::MultiLineString(lines.iter().map(|l| super::shape::to_geo_line(l)).collect());
    let edges: Vec<_> = polygon_edges(polygons).into_iter().chain(line_edge_list(lines)).collect();
    gp.clip(&gl, false)
        .0
        .iter()
        .map(|l| l.coords().map(|c| to_great_circle_crossing([c.x, c.y], &edges)).collect::<Vec<LngLat>>())
        .filter(|l| l.len() >= 2)
        .collect()
}

/// The points and shared stretches of two sets of lines.
pub fn intersect_lines(a: &[Vec<LngLat>], b: &[Vec<LngLat>]) -> (Vec<LngLat>, Vec<Vec<LngLat>>) {
    use geo::line_intersection::{line_intersection, LineIntersection};
    let (mut points, mut segments): (Vec<LngLat>, Vec<(LngLat, LngLat)>) = (Vec::new(), Vec::new());
    let edges: Vec<_> = line_edge_list(a).into_iter().chain(line_edge_list(b)).collect();
    for ea in line_edge_list(a) {
        for eb in line_edge_list(b) {
            let la = geo::Line::new((ea.0[0], ea.0[1]), (ea.1[0], ea.1[1]));
            let lb = geo::Line::new((eb.0[0], eb.0[1]), (eb.1[0], eb.1[1]));
            match line_intersection(la, lb) {
                Some(LineIntersection::SinglePoint { intersection: c, .. }) => {
                    let p = to_great_circle_crossing([c.x, c.y], &edges);
                    if !points.contains(&p) {
                        points.push(p);
                    }
                }
                Some(LineIntersection::Collinear { intersection: l }) if l.start != l.end => {
                    let s = ([l.start.x, l.start.y], [l.end.x, l.end.y]);
                    // Keep the direction of the first set of lines.
                    let forward =
                        (s.1[0] - s.0[0]) * (ea.1[0] - ea.0[0]) + (s.1[1] - s.0[1]) * (ea.1[1] - ea.0[1]) >= 0.0;
                    segments.push(if forward { s } else { (s.1, s.0) });
                }
                _ => {}
            }
        }
    }
    let lines = merge_segments(segments);
    points.retain(|p| !lines.iter().any(|l| l.windows(2).any(|w| planar_distance(*p, w[0], w[1]) < 1e-12)));
    (points, lines)
}

/// Distinct segments (either direction counts once) joined end to end into
/// as few lines as possible, in the order they come.
pub fn merge_segments(segments: Vec<(LngLat, LngLat)>) -> Vec<Vec<LngLat>> {
    let mut unique: Vec<(LngLat, LngLat)> = Vec::new();
    for s in segments {
        if s.0 != s.1 && !unique.iter().any(|u| *u == s || (u.0 == s.1 && u.1 == s.0)) {
            unique.push(s);
        }
    }
    let mut used = vec![false; unique.len()];
    let mut lines = Vec::new();
    for start in 0..unique.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut line = vec![unique[start].0, unique[start].1];
        loop {
            let end = *line.last().unwrap_or(&line[0]);
            let head = line[0];
            let next = (0..unique.len()).find(|&i| !used[i] && (unique[i].0 == end || unique[i].1 == end));
            if let Some(i) = next {
                used[i] = true;
                line.push(if unique[i].0 == end { unique[i].1 } else { unique[i].0 });
                continue;
            }
            let prev = (0..unique.len()).find(|&i| !used[i] && (unique[i].0 == head || unique[i].1 == head));
            if let Some(i) = prev {
                used[i] = true;
                line.insert(0, if unique[i].1 == head { unique[i].0 } else { unique[i].1 });
                continue;
            }
            break;
        }
        lines.push(line);
    }
    lines
}

/// The union of lines: shared stretches once, joined where they meet.
pub fn union_lines(lines: &[Vec<LngLat>]) -> Vec<Vec<LngLat>> {
    merge_segments(line_edge_list(lines))
}

/// Whether two sets of lines touch or cross.
pub fn lines_intersect(a: &[Vec<LngLat>], b: &[Vec<LngLat>]) -> bool {
    let (points, lines) = intersect_lines(a, b);
    !points.is_empty() || !lines.is_empty()
}

/// Whether two sets of polygons share any point.
pub fn polygons_intersect(a: &[Polygon], b: &[Polygon]) -> bool {
    use geo::Intersects;
    super::shape::to_geo_multipolygon(a).intersects(&super::shape::to_geo_multipolygon(b))
}

/// Whether lines touch or enter polygons.
pub fn line_intersects_polygons(lines: &[Vec<LngLat>], polygons: &[Polygon]) -> bool {
    use geo::Intersects;
    let gl = geo::MultiLineString(lines.iter().map(|l| super::shape::to_geo_line(l)).collect());
    gl.intersects(&super::shape::to_geo_multipolygon(polygons))
}
