//! Geospatial functions over lines and polygons (`geo_line_length`,
//! `geo_point_in_polygon`, `geo_intersection_2polygons`, …) and
//! `geo_from_wkt`.
//!
//! Shapes are GeoJSON `dynamic` values; invalid shapes, coordinates out of
//! range and arguments out of their documented ranges give null. Edges are
//! geodesics on a sphere ([`sphere::EARTH_RADIUS`]), as Kusto's reference
//! says for these functions.

pub mod ops;
pub mod shape;
pub mod sphere;

use super::{coerce, expect_one_of, CallResult, Registry};
use crate::convert::Bound;
use crate::dynamic::{DynRef, DynValue, ENCODED_NULL};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{ColumnarValue, Expr};
use datafusion::prelude::lit;
use serde_json::Value;
use shape::{LngLat, Polygon, Shape};
use std::sync::Arc;

/// How an argument is passed to a kernel.
#[derive(Clone, Copy)]
enum Arg {
    /// A number, as `real`.
    R,
    /// A GeoJSON shape (`dynamic`).
    D,
    /// A flag (`bool`).
    B,
    /// Text (`string`).
    S,
}
use Arg::*;

/// The result type of a function.
#[derive(Clone, Copy)]
enum Ret {
    Real,
    Bool,
    Dyn,
}

pub fn register(r: &mut Registry) {
    r.scalar("geo_from_wkt", 1, 1, |_, a| bind("geo_from_wkt", a, &[S], &[], Ret::Dyn, from_wkt));
    r.scalar("geo_point_in_polygon", 3, 3, |_, a| {
        bind("geo_point_in_polygon", a, &[R, R, D], &[], Ret::Bool, point_in_polygon)
    });
    r.scalar("geo_distance_point_to_line", 3, 3, |_, a| {
        bind("geo_distance_point_to_line", a, &[R, R, D], &[], Ret::Real, distance_point_to_line)
    });
    r.scalar("geo_distance_point_to_polygon", 3, 3, |_, a| {
        bind("geo_distance_point_to_polygon", a, &[R, R, D], &[], Ret::Real, distance_point_to_polygon)
    });
    r.scalar("geo_closest_point_on_line", 3, 3, |_, a| {
        bind("geo_closest_point_on_line", a, &[R, R, D], &[], Ret::Dyn, closest_point_on_line)
    });
    r.scalar("geo_closest_point_on_polygon", 3, 3, |_, a| {
        bind("geo_closest_point_on_polygon", a, &[R, R, D], &[], Ret::Dyn, closest_point_on_polygon)
    });
    r.scalar("geo_intersects_2lines", 2, 2, |_, a| {
        bind("geo_intersects_2lines", a, &[D, D], &[], Ret::Bool, intersects_2lines)
    });
    r.scalar("geo_intersects_2polygons", 2, 2, |_, a| {
        bind("geo_intersects_2polygons", a, &[D, D], &[], Ret::Bool, intersects_2polygons)
    });
    r.scalar("geo_intersects_line_with_polygon", 2, 2, |_, a| {
        bind("geo_intersects_line_with_polygon", a, &[D, D], &[], Ret::Bool, intersects_line_with_polygon)
    });
    r.scalar("geo_intersection_2lines", 2, 2, |_, a| {
        bind("geo_intersection_2lines", a, &[D, D], &[], Ret::Dyn, intersection_2lines)
    });
    r.scalar("geo_intersection_2polygons", 2, 2, |_, a| {
        bind("geo_intersection_2polygons", a, &[D, D], &[], Ret::Dyn, intersection_2polygons)
    });
    r.scalar("geo_intersection_line_with_polygon", 2, 2, |_, a| {
        bind("geo_intersection_line_with_polygon", a, &[D, D], &[], Ret::Dyn, intersection_line_with_polygon)
    });
    r.scalar("geo_line_length", 1, 1, |_, a| bind("geo_line_length", a, &[D], &[], Ret::Real, line_length));
    r.scalar("geo_line_centroid", 1, 1, |_, a| bind("geo_line_centroid", a, &[D], &[], Ret::Dyn, line_centroid));
    r.scalar("geo_line_densify", 1, 3, |_, a| {
        bind("geo_line_densify", a, &[D, R, B], &[lit(10.0), lit(false)], Ret::Dyn, line_densify)
    });
    r.scalar("geo_line_interpolate_point", 2, 2, |_, a| {
        bind("geo_line_interpolate_point", a, &[D, R], &[], Ret::Dyn, line_interpolate_point)
    });
    r.scalar("geo_line_locate_point", 3, 4, |_, a| {
        bind("geo_line_locate_point", a, &[D, R, R, B], &[lit(false)], Ret::Real, line_locate_point)
    });
    r.scalar("geo_line_simplify", 1, 2, |_, a| {
        bind("geo_line_simplify", a, &[D, R], &[lit(10.0)], Ret::Dyn, line_simplify)
    });
    r.scalar("geo_line_buffer", 2, 3, |_, a| {
        bind("geo_line_buffer", a, &[D, R, R], &[lit(10.0)], Ret::Dyn, line_buffer)
    });
    r.scalar("geo_point_buffer", 3, 4, |_, a| {
        bind("geo_point_buffer", a, &[R, R, R, R], &[lit(10.0)], Ret::Dyn, point_buffer)
    });
    r.scalar("geo_polygon_area", 1, 1, |_, a| bind("geo_polygon_area", a, &[D], &[], Ret::Real, polygon_area));
    r.scalar("geo_polygon_perimeter", 1, 1, |_, a| {
        bind("geo_polygon_perimeter", a, &[D], &[], Ret::Real, polygon_perimeter)
    });
    r.scalar("geo_polygon_centroid", 1, 1, |_, a| {
        bind("geo_polygon_centroid", a, &[D], &[], Ret::Dyn, polygon_centroid)
    });
    r.scalar("geo_polygon_densify", 1, 3, |_, a| {
        bind("geo_polygon_densify", a, &[D, R, B], &[lit(10.0), lit(false)], Ret::Dyn, polygon_densify)
    });
    r.scalar("geo_polygon_simplify", 1, 2, |_, a| {
        bind("geo_polygon_simplify", a, &[D, R], &[lit(10.0)], Ret::Dyn, polygon_simplify)
    });
    r.scalar("geo_polygon_buffer", 2, 3, |_, a| {
        bind("geo_polygon_buffer", a, &[D, R, R], &[lit(10.0)], Ret::Dyn, polygon_buffer)
    });
    r.scalar("geo_simplify_polygons_array", 1, 2, |_, a| {
        bind("geo_simplify_polygons_array", a, &[D, R], &[lit(10.0)], Ret::Dyn, simplify_polygons_array)
    });
    r.scalar("geo_union_lines_array", 1, 1, |_, a| {
        bind("geo_union_lines_array", a, &[D], &[], Ret::Dyn, union_lines_array)
    });
    r.scalar("geo_union_polygons_array", 1, 1, |_, a| {
        bind("geo_union_polygons_array", a, &[D], &[], Ret::Dyn, union_polygons_array)
    });
}

/// Checks and converts the arguments as `kinds` says, appends the defaults
/// of the optional arguments left out, and calls the kernel.
fn bind(
    name: &str,
    args: Vec<Bound>,
    kinds: &[Arg],
    defaults: &[Expr],
    ret: Ret,
    kernel: udf::Kernel,
) -> CallResult<Bound> {
    let given = args.len();
    let mut exprs: Vec<Expr> = Vec::with_capacity(kinds.len());
    for (i, b) in args.into_iter().enumerate() {
        exprs.push(match kinds[i] {
            R => coerce(name, i, b, KqlType::Real)?.expr,
            S => coerce(name, i, b, KqlType::String)?.expr,
            D => {
                expect_one_of(name, i, &b, &[KqlType::Dynamic])?;
                b.expr
            }
            // Microsoft's binder also takes a number for a flag.
            B if matches!(b.ty, KqlType::Int | KqlType::Long) => {
                datafusion::logical_expr::cast(b.expr, DataType::Boolean)
            }
            B => {
                expect_one_of(name, i, &b, &[KqlType::Bool, KqlType::Int, KqlType::Long])?;
                b.expr
            }
        });
    }
    let first_default = kinds.len() - defaults.len();
    exprs.extend(defaults[given.saturating_sub(first_default).min(defaults.len())..].iter().cloned());
    let (ty, kql) = match ret {
        Ret::Real => (DataType::Float64, KqlType::Real),
        Ret::Bool => (DataType::Boolean, KqlType::Bool),
        Ret::Dyn => (DataType::Binary, KqlType::Dynamic),
    };
    Ok(Bound::new(udf::call(&format!("kql_{name}"), ty, kernel, exprs), kql))
}

/// One argument column of a kernel.
enum Column {
    Real(Float64Array),
    Bool(BooleanArray),
    Dyn(BinaryArray),
    Text(StringArray),
}

/// The argument values of one row.
struct Row<'a> {
    columns: &'a [Column],
    i: usize,
}

impl Row<'_> {
    fn real(&self, k: usize) -> Option<f64> {
        match &self.columns[k] {
            Column::Real(a) if !a.is_null(self.i) => Some(a.value(self.i)).filter(|x| x.is_finite()),
            _ => None,
        }
    }

    fn flag(&self, k: usize) -> Option<bool> {
        match &self.columns[k] {
            Column::Bool(a) if !a.is_null(self.i) => Some(a.value(self.i)),
            _ => None,
        }
    }

    fn text(&self, k: usize) -> Option<&str> {
        match &self.columns[k] {
            Column::Text(a) if !a.is_null(self.i) => Some(a.value(self.i)),
            _ => None,
        }
    }

    /// A dynamic argument as JSON (None for null).
    fn json(&self, k: usize) -> Option<Value> {
        match &self.columns[k] {
            Column::Dyn(a) if !a.is_null(self.i) => {
                let d = DynRef::new(a.value(self.i));
                (!d.is_null()).then(|| d.to_json_value())
            }
            _ => None,
        }
    }

    /// A point argument at `k`, `k + 1`, if valid.
    fn point(&self, k: usize) -> Option<LngLat> {
        let (lng, lat) = (self.real(k)?, self.real(k + 1)?);
        shape::valid_point(lng, lat).then_some([lng, lat])
    }

    fn lines(&self, k: usize) -> Option<Vec<Vec<LngLat>>> {
        shape::parse_lines(&self.json(k)?)
    }

    fn polygons(&self, k: usize) -> Option<Vec<Polygon>> {
        shape::parse_polygons(&self.json(k)?)
    }

    /// An array of shapes, each parsed by `item`; None if any is invalid.
    fn shapes<T>(&self, k: usize, item: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
        let value = self.json(k)?;
        let items: Option<Vec<T>> = value.as_array()?.iter().map(item).collect();
        items.filter(|v| !v.is_empty())
    }
}

fn columns(args: &[ColumnarValue], n: usize) -> Result<Vec<Column>> {
    args.iter()
        .map(|a| {
            let array = a.to_array(n)?;
            Ok(match array.data_type() {
                DataType::Float64 => {
                    Column::Real(array.as_primitive::<datafusion::arrow::datatypes::Float64Type>().clone())
                }
                DataType::Boolean => Column::Bool(array.as_boolean().clone()),
                DataType::Binary => Column::Dyn(array.as_binary::<i32>().clone()),
                DataType::Utf8 => Column::Text(array.as_string::<i32>().clone()),
                other => return exec_err!("geo function: unexpected argument type {other}"),
            })
        })
        .collect()
}

/// A kernel returning reals.
fn real_rows(args: &[ColumnarValue], rows: usize, f: impl Fn(&Row) -> Option<f64>) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let cols = columns(args, n)?;
    let out: Float64Array = (0..n).map(|i| f(&Row { columns: &cols, i })).collect();
    maybe_scalar(args, Arc::new(out))
}

/// A kernel returning bools.
fn bool_rows(args: &[ColumnarValue], rows: usize, f: impl Fn(&Row) -> Option<bool>) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let cols = columns(args, n)?;
    let out: BooleanArray = (0..n).map(|i| f(&Row { columns: &cols, i })).collect();
    maybe_scalar(args, Arc::new(out))
}

/// A kernel returning shapes (dynamic null where `f` gives None).
fn shape_rows(args: &[ColumnarValue], rows: usize, f: impl Fn(&Row) -> Option<Shape>) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let cols = columns(args, n)?;
    let mut out = BinaryBuilder::with_capacity(n, n * 64);
    for i in 0..n {
        match f(&Row { columns: &cols, i }) {
            Some(s) => out.append_value(DynValue::from_json(&shape::to_json(&s)).encode()),
            None => out.append_value(ENCODED_NULL),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn lines_shape(lines: Vec<Vec<LngLat>>) -> Shape {
    let multi = lines.len() > 1;
    Shape::Lines { lines, multi }
}

fn polygons_shape(polygons: Vec<Polygon>) -> Shape {
    let multi = polygons.len() > 1;
    Shape::Polygons { polygons, multi }
}

/// A densify or simplify tolerance in meters, checked against its range.
fn tolerance_in(row: &Row, k: usize, min: f64, max: f64) -> Option<f64> {
    row.real(k).filter(|t| (min..=max).contains(t))
}

/// `geo_from_wkt(text)`: Well-Known Text as GeoJSON.
fn from_wkt(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    use wkt::TryFromWkt;
    shape_rows(args, rows, |r| {
        let geometry = geo::Geometry::<f64>::try_from_wkt_str(r.text(0)?.trim()).ok()?;
        shape_from_geo(&geometry)
    })
}

/// A `geo` geometry as a validated shape.
fn shape_from_geo(g: &geo::Geometry<f64>) -> Option<Shape> {
    let value = serde_json::to_value(geojson::Geometry::from(g)).ok()?;
    shape::parse(&value)
}

fn point_in_polygon(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    bool_rows(args, rows, |r| Some(ops::polygons_contain(&r.polygons(2)?, r.point(0)?)))
}

fn distance_point_to_line(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_rows(args, rows, |r| Some(ops::closest_on_lines(&r.lines(2)?, r.point(0)?)?.1))
}

fn distance_point_to_polygon(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_rows(args, rows, |r| Some(ops::closest_on_polygons(&r.polygons(2)?, r.point(0)?)?.1))
}

fn closest_point_on_line(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| Some(Shape::Point(ops::closest_on_lines(&r.lines(2)?, r.point(0)?)?.0)))
}

fn closest_point_on_polygon(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| Some(Shape::Point(ops::closest_on_polygons(&r.polygons(2)?, r.point(0)?)?.0)))
}

fn intersects_2lines(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    bool_rows(args, rows, |r| Some(ops::lines_intersect(&r.lines(0)?, &r.lines(1)?)))
}

fn intersects_2polygons(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    bool_rows(args, rows, |r| Some(ops::polygons_intersect(&r.polygons(0)?, &r.polygons(1)?)))
}

fn intersects_line_with_polygon(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    bool_rows(args, rows, |r| Some(ops::line_intersects_polygons(&r.lines(0)?, &r.polygons(1)?)))
}

fn intersection_2lines(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let (points, lines) = ops::intersect_lines(&r.lines(0)?, &r.lines(1)?);
        Some(shape::result_shape(points, lines, Vec::new()))
    })
}

fn intersection_2polygons(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let (a, b) = (r.polygons(0)?, r.polygons(1)?);
        let polygons = ops::intersect_polygons(&a, &b);
        let points = ops::touching_points(&a, &b, &polygons);
        Some(shape::result_shape(points, Vec::new(), polygons))
    })
}

fn intersection_line_with_polygon(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let lines = ops::clip_lines(&r.lines(0)?, &r.polygons(1)?);
        Some(shape::result_shape(Vec::new(), lines, Vec::new()))
    })
}

fn line_length(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_rows(args, rows, |r| Some(ops::lines_length(&r.lines(0)?)))
}

fn line_centroid(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| ops::lines_centroid(&r.lines(0)?).map(Shape::Point))
}

fn line_densify(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let tolerance = tolerance_in(r, 1, 0.1, 10_000.0)?;
        let preserve_crossing = r.flag(2)?;
        let lines = r.lines(0)?.iter().map(|l| ops::densify(l, tolerance, false, preserve_crossing)).collect();
        Some(lines_shape(lines))
    })
}

fn line_interpolate_point(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| ops::interpolate(&r.lines(0)?, r.real(1)?).map(Shape::Point))
}

fn line_locate_point(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_rows(args, rows, |r| ops::locate(&r.lines(0)?, r.point(1)?))
}

fn line_simplify(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let tolerance = simplify_tolerance(r, 1)?;
        let lines: Option<Vec<_>> = r.lines(0)?.iter().map(|l| ops::simplify_line(l, tolerance)).collect();
        Some(lines_shape(lines?))
    })
}

/// A simplify tolerance in meters: Kusto takes [0, ~7,800,000)
/// (geo-line-simplify-function.md).
fn simplify_tolerance(r: &Row, k: usize) -> Option<f64> {
    r.real(k).filter(|t| (0.0..7_800_000.0).contains(t))
}

/// A buffer tolerance in meters: at least 0.0001% of the radius, and one
/// above the radius is lowered below it (geo-polygon-buffer-function.md).
fn buffer_tolerance(r: &Row, k: usize, radius: f64) -> Option<f64> {
    let tolerance = r.real(k).filter(|t| *t >= radius.abs() * 1e-6)?;
    Some(tolerance.min(radius.abs() * 0.99))
}

fn line_buffer(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let radius = r.real(1).filter(|x| *x > 0.0)?;
        buffer_tolerance(r, 2, radius)?;
        ops::buffer_lines(&r.lines(0)?, radius).map(polygons_shape)
    })
}

fn point_buffer(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let center = r.point(0)?;
        let radius = r.real(2).filter(|x| *x > 0.0)?;
        let tolerance = buffer_tolerance(r, 3, radius)?;
        Some(polygons_shape(vec![vec![ops::circle(center, radius, tolerance)]]))
    })
}

fn polygon_buffer(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let radius = r.real(1).filter(|x| *x > 0.0)?;
        buffer_tolerance(r, 2, radius)?;
        ops::buffer_polygons(&r.polygons(0)?, radius).map(polygons_shape)
    })
}

fn polygon_area(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_rows(args, rows, |r| Some(ops::polygons_area(&r.polygons(0)?)))
}

fn polygon_perimeter(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    real_rows(args, rows, |r| Some(ops::polygons_perimeter(&r.polygons(0)?)))
}

fn polygon_centroid(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| ops::polygons_centroid(&r.polygons(0)?).map(Shape::Point))
}

fn polygon_densify(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let tolerance = tolerance_in(r, 1, 0.1, 10_000.0)?;
        let preserve_crossing = r.flag(2)?;
        let polygons = r
            .polygons(0)?
            .iter()
            .map(|p| p.iter().map(|ring| ops::densify(ring, tolerance, true, preserve_crossing)).collect())
            .collect();
        Some(polygons_shape(polygons))
    })
}

fn polygon_simplify(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let tolerance = simplify_tolerance(r, 1)?;
        ops::simplify_polygons(&r.polygons(0)?, tolerance).map(polygons_shape)
    })
}

fn simplify_polygons_array(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let tolerance = simplify_tolerance(r, 1)?;
        let polygons: Vec<Polygon> = r.shapes(0, shape::parse_polygons)?.into_iter().flatten().collect();
        ops::simplify_polygons(&ops::union_polygons(&polygons), tolerance).map(polygons_shape)
    })
}

fn union_lines_array(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let lines: Vec<Vec<LngLat>> = r.shapes(0, shape::parse_lines)?.into_iter().flatten().collect();
        Some(lines_shape(ops::union_lines(&lines)))
    })
}

fn union_polygons_array(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    shape_rows(args, rows, |r| {
        let polygons: Vec<Polygon> = r.shapes(0, shape::parse_polygons)?.into_iter().flatten().collect();
        Some(polygons_shape(ops::union_polygons(&polygons)))
    })
}
