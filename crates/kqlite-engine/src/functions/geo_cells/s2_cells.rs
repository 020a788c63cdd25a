//! S2 cells (the `s2` crate): `geo_point_to_s2cell`,
//! `geo_s2cell_to_central_point`, `geo_s2cell_to_polygon`,
//! `geo_s2cell_neighbors`. Tokens are S2's: the cell id in hex without
//! trailing zeros.

use super::{bind, dynamic_out, point_json, polygon_json, string_array, text_out, valid_point, Param, Rows};
use crate::functions::Registry;
use crate::types::KqlType;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use s2::cell::Cell;
use s2::cellid::CellID;
use s2::latlng::LatLng;
use s2::point::Point;

/// S2's deepest level.
pub(super) const MAX_LEVEL: i64 = 30;

pub(super) fn register(r: &mut Registry) {
    r.scalar("geo_point_to_s2cell", 2, 3, |_, a| {
        bind("geo_point_to_s2cell", a, &[Param::Real, Param::Real, Param::LongOr(11)], KqlType::String, point_to_s2cell)
    });
    r.scalar("geo_s2cell_to_central_point", 1, 1, |_, a| {
        bind("geo_s2cell_to_central_point", a, &[Param::Text], KqlType::Dynamic, s2cell_to_central_point)
    });
    r.scalar("geo_s2cell_to_polygon", 1, 1, |_, a| {
        bind("geo_s2cell_to_polygon", a, &[Param::Text], KqlType::Dynamic, s2cell_to_polygon)
    });
    r.scalar("geo_s2cell_neighbors", 1, 1, |_, a| {
        bind("geo_s2cell_neighbors", a, &[Param::Text], KqlType::Dynamic, s2cell_neighbors)
    });
}

/// The level-`level` cell holding a point.
pub(super) fn cell_of(lon: f64, lat: f64, level: u64) -> CellID {
    CellID::from(LatLng::from_degrees(lat, lon)).parent(level)
}

/// The cell a token names, or None for a token that is not a valid cell
/// (at most 16 hex digits).
pub(super) fn parse_token(token: &str) -> Option<CellID> {
    if token.is_empty() || token.len() > 16 || !token.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let id = CellID::from_token(token);
    id.is_valid().then_some(id)
}

/// A point on the unit sphere as `(lon, lat)` degrees.
pub(super) fn lon_lat(p: &Point) -> (f64, f64) {
    let ll = LatLng::from(p);
    (ll.lng.deg(), ll.lat.deg())
}

fn point_to_s2cell(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    text_out(args, rows, |a: &Rows, r| {
        let (lon, lat, level) = (a.real(0, r)?, a.real(1, r)?, a.long(2, r)?);
        (valid_point(lon, lat) && (0..=MAX_LEVEL).contains(&level)).then(|| cell_of(lon, lat, level as u64).to_token())
    })
}

fn s2cell_to_central_point(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let (lon, lat) = lon_lat(&Point::from(parse_token(a.text(0, r)?)?));
        Some(point_json(lon, lat))
    })
}

/// The cell's four corners (S2's counter-clockwise vertex order).
pub(super) fn cell_vertices(id: CellID) -> Vec<(f64, f64)> {
    Cell::from(id).vertices().iter().map(lon_lat).collect()
}

fn s2cell_to_polygon(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| Some(polygon_json(&cell_vertices(parse_token(a.text(0, r)?)?))))
}

/// The cells of the same level that share an edge or a corner with `id`,
/// found in S2's `GetAllNeighbors` order and listed as Kusto's set of
/// tokens lists them.
fn neighbors(id: CellID) -> Vec<String> {
    let found = id.all_neighbors(id.level()).into_iter().filter(|n| *n != id).map(|n| n.to_token()).collect();
    super::kusto_set_order(found)
}

fn s2cell_neighbors(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| Some(string_array(neighbors(parse_token(a.text(0, r)?)?))))
}
