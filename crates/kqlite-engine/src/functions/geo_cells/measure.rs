//! Measurements between points on Earth: `geo_distance_2points`,
//! `geo_point_in_circle`, `geo_angle`, `geo_azimuth`.
//!
//! Kusto measures on a sphere of S2's Earth radius (6,371,010 m: the
//! documented Seattle–Los Angeles distance 1546754.35197381 m is that
//! sphere's great-circle distance), and on the WGS-84 ellipsoid (Karney's
//! geodesics, `geo`'s `Geodesic`) when `geo_distance_2points` is asked to.

use super::{bind, bool_out, real_out, valid_point, Param, Rows};
use crate::functions::Registry;
use crate::types::KqlType;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use geo::{Distance, Geodesic};
use std::f64::consts::TAU;

/// S2's mean Earth radius in meters, Kusto's sphere.
pub(super) const EARTH_RADIUS_M: f64 = 6_371_010.0;

pub(super) fn register(r: &mut Registry) {
    const P: Param = Param::Real;
    r.scalar("geo_distance_2points", 4, 5, |_, a| {
        bind("geo_distance_2points", a, &[P, P, P, P, Param::BoolOr(false)], KqlType::Real, distance_2points)
    });
    r.scalar("geo_point_in_circle", 5, 5, |_, a| {
        bind("geo_point_in_circle", a, &[P, P, P, P, P], KqlType::Bool, point_in_circle)
    });
    r.scalar("geo_angle", 6, 6, |_, a| bind("geo_angle", a, &[P, P, P, P, P, P], KqlType::Real, angle));
    r.scalar("geo_azimuth", 4, 4, |_, a| bind("geo_azimuth", a, &[P, P, P, P], KqlType::Real, azimuth));
}

/// Argument `i` and `i + 1` of a row as a valid `(lon, lat)`.
fn point(a: &Rows, i: usize, r: usize) -> Option<(f64, f64)> {
    let (lon, lat) = (a.real(i, r)?, a.real(i + 1, r)?);
    valid_point(lon, lat).then_some((lon, lat))
}

/// The great-circle angle between two points, in radians (haversine, as S2's
/// `S1Angle(S2LatLng, S2LatLng)`).
pub(super) fn central_angle(p: (f64, f64), q: (f64, f64)) -> f64 {
    let (lat1, lat2) = (p.1.to_radians(), q.1.to_radians());
    let (dlat, dlon) = (lat2 - lat1, (q.0 - p.0).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * h.min(1.0).sqrt().asin()
}

fn distance_2points(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_out(args, rows, |a: &Rows, r| {
        let (p, q) = (point(a, 0, r)?, point(a, 2, r)?);
        Some(if a.bool(4, r)? {
            Geodesic.distance(geo::Point::new(p.0, p.1), geo::Point::new(q.0, q.1))
        } else {
            central_angle(p, q) * EARTH_RADIUS_M
        })
    })
}

fn point_in_circle(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    bool_out(args, rows, |a: &Rows, r| {
        let (p, center, radius) = (point(a, 0, r)?, point(a, 2, r)?, a.real(4, r)?);
        (radius.is_finite() && radius >= 0.0).then(|| central_angle(p, center) * EARTH_RADIUS_M <= radius)
    })
}

/// The initial bearing from `p` to `q`, clockwise from true north, in
/// [0, 2π); None when the points coincide (the direction is undefined).
fn bearing(p: (f64, f64), q: (f64, f64)) -> Option<f64> {
    if central_angle(p, q) == 0.0 {
        return None;
    }
    let (lat1, lat2) = (p.1.to_radians(), q.1.to_radians());
    let dlon = (q.0 - p.0).to_radians();
    let y = dlon.sin() * lat2.cos();
    let x = lat1.cos() * lat2.sin() - lat1.sin() * lat2.cos() * dlon.cos();
    Some(y.atan2(x).rem_euclid(TAU))
}

fn azimuth(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_out(args, rows, |a: &Rows, r| bearing(point(a, 0, r)?, point(a, 2, r)?))
}

/// The clockwise angle at p2 from the line [p2, p1] to the line [p2, p3].
fn angle(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_out(args, rows, |a: &Rows, r| {
        let (p1, p2, p3) = (point(a, 0, r)?, point(a, 2, r)?, point(a, 4, r)?);
        Some((bearing(p2, p3)? - bearing(p2, p1)?).rem_euclid(TAU))
    })
}
