//! Geohash cells: `geo_point_to_geohash`, `geo_geohash_to_central_point`,
//! `geo_geohash_to_polygon`, `geo_geohash_neighbors`.
//!
//! Written here rather than with the `geohash` crate: Kusto accepts
//! accuracies up to 18 characters (90 bits), the crate only 12.

use super::{bind, dynamic_out, point_json, polygon_json, string_array, text_out, valid_point, Param, Rows};
use crate::functions::Registry;
use crate::types::KqlType;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;

const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
/// Kusto's accuracy range (geo_point_to_geohash: [1, 18], default 5).
const MAX_ACCURACY: i64 = 18;

pub(super) fn register(r: &mut Registry) {
    r.scalar("geo_point_to_geohash", 2, 3, |_, a| {
        bind(
            "geo_point_to_geohash",
            a,
            &[Param::Real, Param::Real, Param::LongOr(5)],
            KqlType::String,
            point_to_geohash,
        )
    });
    r.scalar("geo_geohash_to_central_point", 1, 1, |_, a| {
        bind("geo_geohash_to_central_point", a, &[Param::Text], KqlType::Dynamic, geohash_to_central_point)
    });
    r.scalar("geo_geohash_to_polygon", 1, 1, |_, a| {
        bind("geo_geohash_to_polygon", a, &[Param::Text], KqlType::Dynamic, geohash_to_polygon)
    });
    r.scalar("geo_geohash_neighbors", 1, 1, |_, a| {
        bind("geo_geohash_neighbors", a, &[Param::Text], KqlType::Dynamic, geohash_neighbors)
    });
}

/// A geohash cell's bounds in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bounds {
    min_lon: f64,
    max_lon: f64,
    min_lat: f64,
    max_lat: f64,
}

impl Bounds {
    fn center(&self) -> (f64, f64) {
        ((self.min_lon + self.max_lon) / 2.0, (self.min_lat + self.max_lat) / 2.0)
    }
}

/// The geohash of `len` characters of a point: bits alternate longitude
/// (first) and latitude halvings, five bits per base-32 character.
fn encode(lon: f64, lat: f64, len: usize) -> String {
    let (mut lon_range, mut lat_range) = ((-180.0f64, 180.0f64), (-90.0f64, 90.0f64));
    let mut out = String::with_capacity(len);
    let mut even = true;
    while out.len() < len {
        let mut index = 0usize;
        for _ in 0..5 {
            let (range, value) = if even { (&mut lon_range, lon) } else { (&mut lat_range, lat) };
            let mid = (range.0 + range.1) / 2.0;
            index <<= 1;
            if value >= mid {
                index |= 1;
                range.0 = mid;
            } else {
                range.1 = mid;
            }
            even = !even;
        }
        out.push(ALPHABET[index] as char);
    }
    out
}

/// The bounds of a geohash, or None when it is empty, too long or has a
/// character outside the geohash alphabet.
fn decode(hash: &str) -> Option<Bounds> {
    if hash.is_empty() || hash.len() > MAX_ACCURACY as usize {
        return None;
    }
    let (mut lon_range, mut lat_range) = ((-180.0f64, 180.0f64), (-90.0f64, 90.0f64));
    let mut even = true;
    for c in hash.bytes() {
        let index = ALPHABET.iter().position(|&a| a == c)?;
        for bit in (0..5).rev() {
            let range = if even { &mut lon_range } else { &mut lat_range };
            let mid = (range.0 + range.1) / 2.0;
            if index >> bit & 1 == 1 {
                range.0 = mid;
            } else {
                range.1 = mid;
            }
            even = !even;
        }
    }
    Some(Bounds { min_lon: lon_range.0, max_lon: lon_range.1, min_lat: lat_range.0, max_lat: lat_range.1 })
}

fn point_to_geohash(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    text_out(args, rows, |a: &Rows, r| {
        let (lon, lat, accuracy) = (a.real(0, r)?, a.real(1, r)?, a.long(2, r)?);
        (valid_point(lon, lat) && (1..=MAX_ACCURACY).contains(&accuracy)).then(|| encode(lon, lat, accuracy as usize))
    })
}

fn geohash_to_central_point(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let (lon, lat) = decode(a.text(0, r)?)?.center();
        Some(point_json(lon, lat))
    })
}

fn geohash_to_polygon(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let b = decode(a.text(0, r)?)?;
        // Counter-clockwise from the south-west corner, as Kusto draws it.
        Some(polygon_json(&[
            (b.min_lon, b.min_lat),
            (b.max_lon, b.min_lat),
            (b.max_lon, b.max_lat),
            (b.min_lon, b.max_lat),
        ]))
    })
}

/// The eight neighbors, found row by row from the north-west and listed as
/// Kusto's set of hashes lists them (which gives the documented
/// `geo_geohash_neighbors('sunny')`). Longitude wraps around the
/// antimeridian; neighbors beyond a pole do not exist and are left out.
fn neighbors(hash: &str) -> Option<Vec<String>> {
    let b = decode(hash)?;
    let (lon, lat) = b.center();
    let (width, height) = (b.max_lon - b.min_lon, b.max_lat - b.min_lat);
    const STEPS: [(f64, f64); 8] =
        [(-1.0, 1.0), (0.0, 1.0), (1.0, 1.0), (-1.0, 0.0), (1.0, 0.0), (-1.0, -1.0), (0.0, -1.0), (1.0, -1.0)];
    let mut out: Vec<String> = Vec::with_capacity(8);
    for (dx, dy) in STEPS {
        let n_lat = lat + dy * height;
        if !(-90.0..=90.0).contains(&n_lat) {
            continue;
        }
        let mut n_lon = lon + dx * width;
        if n_lon > 180.0 {
            n_lon -= 360.0;
        } else if n_lon < -180.0 {
            n_lon += 360.0;
        }
        let cell = encode(n_lon, n_lat, hash.len());
        if cell != hash && !out.contains(&cell) {
            out.push(cell);
        }
    }
    Some(super::kusto_set_order(out))
}

fn geohash_neighbors(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| Some(string_array(neighbors(a.text(0, r)?)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_and_decode_round_trip() {
        // geo_geohash_to_central_point("sunny") is documented as (42.47314453125, 23.70849609375).
        let center = decode("sunny").unwrap().center();
        assert_eq!(center, (42.47314453125, 23.70849609375));
        assert_eq!(encode(center.0, center.1, 5), "sunny");
        assert_eq!(encode(center.0, center.1, 18).len(), 18);
        assert!(decode("a").is_none());
        assert!(decode("").is_none());
    }
}
