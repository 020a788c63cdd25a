//! Geometry on the sphere Kusto measures with: points as unit vectors,
//! edges as great-circle arcs, lengths as angles times [`EARTH_RADIUS`].

use super::shape::LngLat;

/// The sphere radius Kusto's geospatial measures use, in meters (the
/// documented examples of `geo_line_length` and `geo_polygon_perimeter`
/// come out exactly with it).
pub const EARTH_RADIUS: f64 = 6_371_010.0;

/// A point on the unit sphere.
pub type V3 = [f64; 3];

pub fn to_v3(p: LngLat) -> V3 {
    let (lng, lat) = (p[0].to_radians(), p[1].to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

pub fn to_lnglat(v: V3) -> LngLat {
    [v[1].atan2(v[0]).to_degrees(), v[2].atan2(v[0].hypot(v[1])).to_degrees()]
}

pub fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn cross(a: V3, b: V3) -> V3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

pub fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub fn scale(a: V3, k: f64) -> V3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

pub fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

/// `a` scaled to unit length, or None for the zero vector.
pub fn normalize(a: V3) -> Option<V3> {
    let n = norm(a);
    (n > 1e-300 && n.is_finite()).then(|| scale(a, 1.0 / n))
}

/// The angle between two unit vectors, in radians (stable for small angles).
pub fn angle(a: V3, b: V3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b))
}

/// The distance in meters between two coordinates along the sphere.
pub fn distance_m(a: LngLat, b: LngLat) -> f64 {
    angle(to_v3(a), to_v3(b)) * EARTH_RADIUS
}

/// The point of arc `a`–`b` closest to `p`.
pub fn closest_on_arc(p: V3, a: V3, b: V3) -> V3 {
    let Some(n) = normalize(cross(a, b)) else { return a };
    let q = sub(p, scale(n, dot(p, n)));
    if let Some(q) = normalize(q) {
        if dot(cross(a, q), n) >= 0.0 && dot(cross(q, b), n) >= 0.0 {
            return q;
        }
    }
    if angle(p, a) <= angle(p, b) {
        a
    } else {
        b
    }
}

/// The point at fraction `t` of arc `a`–`b` (spherical interpolation).
pub fn slerp(a: V3, b: V3, t: f64) -> V3 {
    let theta = angle(a, b);
    if theta < 1e-15 {
        return a;
    }
    let s = theta.sin();
    let v = add(scale(a, ((1.0 - t) * theta).sin() / s), scale(b, (t * theta).sin() / s));
    normalize(v).unwrap_or(a)
}

/// The signed area (steradians) of the spherical triangle `a`, `b`, `c`:
/// positive when counterclockwise (Eriksson's formula).
pub fn signed_triangle_area(a: V3, b: V3, c: V3) -> f64 {
    2.0 * dot(a, cross(b, c)).atan2(1.0 + dot(a, b) + dot(b, c) + dot(c, a))
}

/// The signed area (steradians) enclosed by a ring without its closing
/// vertex: positive when counterclockwise.
pub fn signed_ring_area(ring: &[V3]) -> f64 {
    (1..ring.len().saturating_sub(1)).map(|i| signed_triangle_area(ring[0], ring[i], ring[i + 1])).sum()
}

/// The centroid of a spherical triangle times its area (S2's `TrueCentroid`).
pub fn true_centroid(a: V3, b: V3, c: V3) -> V3 {
    let ratio = |x: f64| if x == 0.0 { 1.0 } else { x / x.sin() };
    let (ra, rb, rc) = (ratio(angle(b, c)), ratio(angle(c, a)), ratio(angle(a, b)));
    let x = [a[0], b[0] - a[0], c[0] - a[0]];
    let y = [a[1], b[1] - a[1], c[1] - a[1]];
    let z = [a[2], b[2] - a[2], c[2] - a[2]];
    let r = [ra, rb - ra, rc - ra];
    scale([dot(cross(y, z), r), dot(cross(z, x), r), dot(cross(x, y), r)], 0.5)
}

/// Whether `p` lies inside a ring (without its closing vertex), taking the
/// smaller of the two regions the ring bounds: the winding angle of the
/// ring's edges seen from `p` is a full turn inside and none outside.
pub fn ring_contains(ring: &[V3], p: V3) -> bool {
    let mut winding = 0.0;
    for i in 0..ring.len() {
        let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
        let y = dot(cross(a, b), p);
        let x = dot(a, b) - dot(p, a) * dot(p, b);
        winding += y.atan2(x);
    }
    winding.abs() > std::f64::consts::PI
}

/// Where great-circle arcs `a`–`b` and `c`–`d` cross, the one of the two
/// antipodal crossings nearer to the arcs.
pub fn arcs_crossing(a: V3, b: V3, c: V3, d: V3) -> Option<V3> {
    let x = normalize(cross(cross(a, b), cross(c, d)))?;
    let mid = add(add(a, b), add(c, d));
    Some(if dot(x, mid) >= 0.0 { x } else { scale(x, -1.0) })
}

/// The point `distance` meters from `from` at `bearing` radians (clockwise from north).
pub fn destination(from: LngLat, bearing: f64, distance: f64) -> LngLat {
    let (lng, lat) = (from[0].to_radians(), from[1].to_radians());
    let d = distance / EARTH_RADIUS;
    let lat2 = (lat.sin() * d.cos() + lat.cos() * d.sin() * bearing.cos()).asin();
    let lng2 = lng + (bearing.sin() * d.sin() * lat.cos()).atan2(d.cos() - lat.sin() * lat2.sin());
    let mut lng2 = lng2.to_degrees();
    if lng2 > 180.0 {
        lng2 -= 360.0;
    } else if lng2 < -180.0 {
        lng2 += 360.0;
    }
    [lng2, lat2.to_degrees()]
}
