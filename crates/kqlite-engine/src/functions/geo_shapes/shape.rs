//! GeoJSON shapes as Kusto's geospatial functions accept them, validated
//! (coordinates in range, lines of two or more points, closed rings of
//! three or more distinct vertices, edges shorter than 180°), and written
//! back as GeoJSON.

use super::sphere;
use serde_json::{json, Map, Value};

/// `[longitude, latitude]` in degrees.
pub type LngLat = [f64; 2];

/// A closed ring without its closing vertex.
pub type Ring = Vec<LngLat>;

/// A polygon: its shell, then its holes.
pub type Polygon = Vec<Ring>;

/// A validated shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Point(LngLat),
    MultiPoint(Vec<LngLat>),
    /// A LineString (one line) or MultiLineString.
    Lines {
        lines: Vec<Vec<LngLat>>,
        multi: bool,
    },
    /// A Polygon (one polygon) or MultiPolygon.
    Polygons {
        polygons: Vec<Polygon>,
        multi: bool,
    },
    Collection(Vec<Shape>),
}

fn coordinate(value: &Value) -> Option<LngLat> {
    let items = value.as_array()?;
    if items.len() < 2 {
        return None;
    }
    let (lng, lat) = (items[0].as_f64()?, items[1].as_f64()?);
    valid_point(lng, lat).then_some([lng, lat])
}

/// Whether a longitude and latitude are in Kusto's ranges.
pub fn valid_point(lng: f64, lat: f64) -> bool {
    (-180.0..=180.0).contains(&lng) && (-90.0..=90.0).contains(&lat)
}

fn coordinates(value: &Value) -> Option<Vec<LngLat>> {
    value.as_array()?.iter().map(coordinate).collect()
}

/// `points` without consecutive repeats.
fn dedup(points: Vec<LngLat>) -> Vec<LngLat> {
    let mut out: Vec<LngLat> = Vec::with_capacity(points.len());
    for p in points {
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

/// Edges must be shorter than 180° (Kusto takes the shorter arc, which
/// is undefined for antipodes).
fn edges_valid(points: &[LngLat], closed: bool) -> bool {
    let n = points.len();
    let edges = if closed { n } else { n.saturating_sub(1) };
    (0..edges).all(|i| {
        let (a, b) = (sphere::to_v3(points[i]), sphere::to_v3(points[(i + 1) % n]));
        sphere::angle(a, b) < std::f64::consts::PI - 1e-12
    })
}

fn line(value: &Value) -> Option<Vec<LngLat>> {
    let points = coordinates(value)?;
    if points.len() < 2 {
        return None;
    }
    let points = dedup(points);
    (points.len() >= 2 && edges_valid(&points, false)).then_some(points)
}

fn ring(value: &Value) -> Option<Ring> {
    let points = coordinates(value)?;
    if points.len() < 4 || points.first() != points.last() {
        return None;
    }
    let mut points = dedup(points);
    points.pop();
    (points.len() >= 3 && edges_valid(&points, true)).then_some(points)
}

/// How deeply arrays nest at the start of `value` (a ring of points is 2).
fn depth(value: &Value) -> usize {
    match value.as_array().and_then(|a| a.first()) {
        Some(first) => 1 + depth(first),
        None => usize::from(value.is_array()),
    }
}

fn polygon(value: &Value) -> Option<Polygon> {
    let mut value = value;
    // Kusto takes a polygon wrapped in extra single-item arrays (as
    // `pack_array(polygon.coordinates)` makes them) as the polygon itself.
    while depth(value) > 3 && value.as_array()?.len() == 1 {
        value = &value.as_array()?[0];
    }
    let rings: Option<Vec<Ring>> = value.as_array()?.iter().map(ring).collect();
    rings.filter(|r| !r.is_empty())
}

fn list<T>(value: &Value, item: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    let items: Option<Vec<T>> = value.as_array()?.iter().map(item).collect();
    items.filter(|v| !v.is_empty())
}

/// Parses and validates a GeoJSON shape.
pub fn parse(value: &Value) -> Option<Shape> {
    let kind = value.get("type")?.as_str()?;
    if kind == "GeometryCollection" {
        return list(value.get("geometries")?, parse).map(Shape::Collection);
    }
    let c = value.get("coordinates")?;
    match kind {
        "Point" => coordinate(c).map(Shape::Point),
        "MultiPoint" => list(c, coordinate).map(Shape::MultiPoint),
        "LineString" => line(c).map(|l| Shape::Lines { lines: vec![l], multi: false }),
        "MultiLineString" => list(c, line).map(|lines| Shape::Lines { lines, multi: true }),
        "Polygon" => polygon(c).map(|p| Shape::Polygons { polygons: vec![p], multi: false }),
        "MultiPolygon" => list(c, polygon).map(|polygons| Shape::Polygons { polygons, multi: true }),
        _ => None,
    }
}

/// The lines of a LineString or MultiLineString.
pub fn parse_lines(value: &Value) -> Option<Vec<Vec<LngLat>>> {
    match parse(value)? {
        Shape::Lines { lines, .. } => Some(lines),
        _ => None,
    }
}

/// The polygons of a Polygon or MultiPolygon.
pub fn parse_polygons(value: &Value) -> Option<Vec<Polygon>> {
    match parse(value)? {
        Shape::Polygons { polygons, .. } => Some(polygons),
        _ => None,
    }
}

/// A coordinate as JSON: whole numbers print without a fraction, as Kusto's do.
pub fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn point_json(p: LngLat) -> Value {
    Value::Array(vec![number(p[0]), number(p[1])])
}

fn points_json(points: &[LngLat]) -> Value {
    Value::Array(points.iter().copied().map(point_json).collect())
}

fn ring_json(ring: &Ring) -> Value {
    let mut closed = ring.clone();
    if let Some(&first) = ring.first() {
        closed.push(first);
    }
    points_json(&closed)
}

fn polygon_json(polygon: &Polygon) -> Value {
    Value::Array(polygon.iter().map(ring_json).collect())
}

fn object(kind: &str, key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert("type".into(), json!(kind));
    map.insert(key.into(), value);
    Value::Object(map)
}

/// The GeoJSON of a shape.
pub fn to_json(shape: &Shape) -> Value {
    match shape {
        Shape::Point(p) => object("Point", "coordinates", point_json(*p)),
        Shape::MultiPoint(points) => object("MultiPoint", "coordinates", points_json(points)),
        Shape::Lines { lines, multi: false } if lines.len() == 1 => {
            object("LineString", "coordinates", points_json(&lines[0]))
        }
        Shape::Lines { lines, .. } => {
            object("MultiLineString", "coordinates", Value::Array(lines.iter().map(|l| points_json(l)).collect()))
        }
        Shape::Polygons { polygons, multi: false } if polygons.len() == 1 => {
            object("Polygon", "coordinates", polygon_json(&polygons[0]))
        }
        Shape::Polygons { polygons, .. } => {
            object("MultiPolygon", "coordinates", Value::Array(polygons.iter().map(polygon_json).collect()))
        }
        Shape::Collection(shapes) => object("GeometryCollection", "geometries", shapes.iter().map(to_json).collect()),
    }
}

/// The simplest shape for a result of points, lines and polygons: one
/// kind gives that kind (single or multi), several a GeometryCollection,
/// none an empty GeometryCollection.
pub fn result_shape(points: Vec<LngLat>, lines: Vec<Vec<LngLat>>, polygons: Vec<Polygon>) -> Shape {
    let mut parts = Vec::new();
    match points.len() {
        0 => {}
        1 => parts.push(Shape::Point(points[0])),
        _ => parts.push(Shape::MultiPoint(points)),
    }
    if !lines.is_empty() {
        let multi = lines.len() > 1;
        parts.push(Shape::Lines { lines, multi });
    }
    if !polygons.is_empty() {
        let multi = polygons.len() > 1;
        parts.push(Shape::Polygons { polygons, multi });
    }
    if parts.len() == 1 {
        parts.pop().unwrap_or(Shape::Collection(Vec::new()))
    } else {
        Shape::Collection(parts)
    }
}

// Conversions to and from `geo_types` for the planar algorithms of `geo`.

pub fn to_geo_line(line: &[LngLat]) -> geo::LineString<f64> {
    geo::LineString::from(line.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
}

pub fn to_geo_polygon(polygon: &Polygon) -> geo::Polygon<f64> {
    let ring = |r: &Ring| {
        let mut points: Vec<(f64, f64)> = r.iter().map(|p| (p[0], p[1])).collect();
        if let Some(&first) = points.first() {
            points.push(first);
        }
        geo::LineString::from(points)
    };
    geo::Polygon::new(ring(&polygon[0]), polygon[1..].iter().map(ring).collect())
}

pub fn to_geo_multipolygon(polygons: &[Polygon]) -> geo::MultiPolygon<f64> {
    geo::MultiPolygon(polygons.iter().map(to_geo_polygon).collect())
}

fn from_geo_ring(ring: &geo::LineString<f64>) -> Ring {
    let mut points: Vec<LngLat> = dedup(ring.coords().map(|c| [c.x, c.y]).collect());
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    points
}

/// Polygons from `geo`, dropping rings that collapsed.
pub fn from_geo_multipolygon(polygons: &geo::MultiPolygon<f64>) -> Vec<Polygon> {
    polygons
        .0
        .iter()
        .filter_map(|p| {
            let shell = from_geo_ring(p.exterior());
            if shell.len() < 3 {
                return None;
            }
            let mut rings = vec![shell];
            rings.extend(p.interiors().iter().map(from_geo_ring).filter(|r| r.len() >= 3));
            Some(rings)
        })
        .collect()
}
