//! H3 cells (the `h3o` crate): `geo_point_to_h3cell`,
//! `geo_h3cell_to_central_point`, `geo_h3cell_to_polygon`,
//! `geo_h3cell_children`, `geo_h3cell_parent`, `geo_h3cell_level`,
//! `geo_h3cell_neighbors`, `geo_h3cell_rings`. Tokens are H3's 15-digit hex
//! cell indexes.

use super::{
    bind, dynamic_out, int_out, point_json, polygon_json, string_array, text_out, valid_point, Param, Rows, UNSPECIFIED,
};
use crate::dynamic::DynValue;
use crate::functions::Registry;
use crate::types::KqlType;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use h3o::{CellIndex, LatLng, Resolution};

/// geo_h3cell_children: a child resolution at most this far below the cell.
const MAX_CHILDREN_DEPTH: u8 = 5;
/// geo_h3cell_rings: the largest ring distance Kusto accepts.
const MAX_RING_DISTANCE: i64 = 142;

pub(super) fn register(r: &mut Registry) {
    r.scalar("geo_point_to_h3cell", 2, 3, |_, a| {
        bind("geo_point_to_h3cell", a, &[Param::Real, Param::Real, Param::LongOr(6)], KqlType::String, point_to_h3cell)
    });
    r.scalar("geo_h3cell_to_central_point", 1, 1, |_, a| {
        bind("geo_h3cell_to_central_point", a, &[Param::Text], KqlType::Dynamic, h3cell_to_central_point)
    });
    r.scalar("geo_h3cell_to_polygon", 1, 1, |_, a| {
        bind("geo_h3cell_to_polygon", a, &[Param::Text], KqlType::Dynamic, h3cell_to_polygon)
    });
    r.scalar("geo_h3cell_children", 1, 2, |_, a| {
        bind("geo_h3cell_children", a, &[Param::Text, Param::LongOrUnspecified], KqlType::Dynamic, h3cell_children)
    });
    r.scalar("geo_h3cell_parent", 1, 2, |_, a| {
        bind("geo_h3cell_parent", a, &[Param::Text, Param::LongOrUnspecified], KqlType::String, h3cell_parent)
    });
    r.scalar("geo_h3cell_level", 1, 1, |_, a| bind("geo_h3cell_level", a, &[Param::Text], KqlType::Int, h3cell_level));
    r.scalar("geo_h3cell_neighbors", 1, 1, |_, a| {
        bind("geo_h3cell_neighbors", a, &[Param::Text], KqlType::Dynamic, h3cell_neighbors)
    });
    r.scalar("geo_h3cell_rings", 2, 2, |_, a| {
        bind("geo_h3cell_rings", a, &[Param::Text, Param::Long], KqlType::Dynamic, h3cell_rings)
    });
}

/// The cell a token names, or None when it is not a valid H3 cell index.
pub(super) fn parse_cell(token: &str) -> Option<CellIndex> {
    if token.is_empty() || token.len() > 16 {
        return None;
    }
    token.parse().ok()
}

/// A resolution in H3's range [0, 15].
pub(super) fn resolution(value: i64) -> Option<Resolution> {
    Resolution::try_from(u8::try_from(value).ok()?).ok()
}

fn point_to_h3cell(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    text_out(args, rows, |a: &Rows, r| {
        let (lon, lat) = (a.real(0, r)?, a.real(1, r)?);
        let res = resolution(a.long(2, r)?)?;
        if !valid_point(lon, lat) {
            return None;
        }
        Some(LatLng::new(lat, lon).ok()?.to_cell(res).to_string())
    })
}

fn h3cell_to_central_point(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let center = LatLng::from(parse_cell(a.text(0, r)?)?);
        Some(point_json(center.lng(), center.lat()))
    })
}

/// The cell's boundary vertices as `(lon, lat)`.
pub(super) fn cell_vertices(cell: CellIndex) -> Vec<(f64, f64)> {
    cell.boundary().iter().map(|v| (v.lng(), v.lat())).collect()
}

fn h3cell_to_polygon(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| Some(polygon_json(&cell_vertices(parse_cell(a.text(0, r)?)?))))
}

fn h3cell_children(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let cell = parse_cell(a.text(0, r)?)?;
        let level = u8::from(cell.resolution());
        let child = match a.long(1, r)? {
            UNSPECIFIED => resolution(i64::from(level) + 1)?,
            value => resolution(value)?,
        };
        let child_level = u8::from(child);
        if child_level < level || child_level - level > MAX_CHILDREN_DEPTH {
            return None;
        }
        Some(string_array(cell.children(child).map(|c| c.to_string())))
    })
}

fn h3cell_parent(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    text_out(args, rows, |a: &Rows, r| {
        let cell = parse_cell(a.text(0, r)?)?;
        let parent = match a.long(1, r)? {
            UNSPECIFIED => resolution(i64::from(u8::from(cell.resolution())) - 1)?,
            value => resolution(value)?,
        };
        Some(cell.parent(parent)?.to_string())
    })
}

fn h3cell_level(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    int_out(args, rows, |a: &Rows, r| Some(i32::from(u8::from(parse_cell(a.text(0, r)?)?.resolution()))))
}

/// The cells at grid distance exactly `k` from `cell`, in the order of H3's
/// gridDisk (the order Kusto's documented neighbors and rings follow).
fn ring(cell: CellIndex, k: u32) -> Vec<String> {
    cell.grid_disk_distances::<Vec<(CellIndex, u32)>>(k)
        .into_iter()
        .filter(|&(_, d)| d == k)
        .map(|(c, _)| c.to_string())
        .collect()
}

fn h3cell_neighbors(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| Some(string_array(ring(parse_cell(a.text(0, r)?)?, 1))))
}

fn h3cell_rings(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let cell = parse_cell(a.text(0, r)?)?;
        let distance = a.long(1, r)?;
        if !(0..=MAX_RING_DISTANCE).contains(&distance) {
            return None;
        }
        Some(DynValue::Array((0..=distance as u32).map(|k| string_array(ring(cell, k))).collect()))
    })
}
