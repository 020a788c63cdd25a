//! Coverings of shapes by cells of one level: `geo_polygon_to_s2cells`,
//! `geo_line_to_s2cells` (edges are geodesics on the sphere) and
//! `geo_polygon_to_h3cells` (edges are straight lines in longitude and
//! latitude; a cell belongs to the polygon when its centroid does), each
//! with an optional buffer radius in meters.

use super::measure::EARTH_RADIUS_M;
use super::{bind, dynamic_out, h3_cells, s2_cells, string_array, valid_point, Param, Rows};
use crate::dynamic::DynRef;
use crate::functions::Registry;
use crate::types::KqlType;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use geo::{Contains, Coord, Intersects, LineString, Polygon};
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng};
use s2::cellid::CellID;
use s2::point::Point;
use std::collections::{HashSet, VecDeque};

/// The most S2 tokens a covering may have (documented limit).
const MAX_S2_CELLS: usize = 65_536;
/// The most H3 tokens a covering may have (documented limit).
const MAX_H3_CELLS: usize = 61_680;

pub(super) fn register(r: &mut Registry) {
    r.scalar("geo_polygon_to_s2cells", 1, 3, |_, a| {
        let params = [Param::Dynamic, Param::LongOr(11), Param::RealOr(0.0)];
        bind("geo_polygon_to_s2cells", a, &params, KqlType::Dynamic, polygon_to_s2cells)
    });
    r.scalar("geo_line_to_s2cells", 1, 3, |_, a| {
        let params = [Param::Dynamic, Param::LongOr(11), Param::RealOr(0.0)];
        bind("geo_line_to_s2cells", a, &params, KqlType::Dynamic, line_to_s2cells)
    });
    r.scalar("geo_polygon_to_h3cells", 1, 3, |_, a| {
        let params = [Param::Dynamic, Param::LongOr(6), Param::RealOr(0.0)];
        bind("geo_polygon_to_h3cells", a, &params, KqlType::Dynamic, polygon_to_h3cells)
    });
}

// ---- GeoJSON input -------------------------------------------------------

/// A GeoJSON position `[lon, lat]` with valid coordinates.
fn position(d: DynRef<'_>) -> Option<Coord<f64>> {
    let (lon, lat) = (d.index(0)?.as_real()?, d.index(1)?.as_real()?);
    valid_point(lon, lat).then_some(Coord { x: lon, y: lat })
}

fn positions(d: DynRef<'_>) -> Option<Vec<Coord<f64>>> {
    d.len()?;
    d.array_items().map(position).collect()
}

/// A closed linear ring of at least four positions.
fn ring(d: DynRef<'_>) -> Option<LineString<f64>> {
    let coords = positions(d)?;
    (coords.len() >= 4 && coords.first() == coords.last()).then(|| LineString::new(coords))
}

/// A polygon's rings: the shell, then its holes.
fn polygon(d: DynRef<'_>) -> Option<Polygon<f64>> {
    let mut rings = Vec::new();
    d.len()?;
    for r in d.array_items() {
        rings.push(ring(r)?);
    }
    if rings.is_empty() {
        return None;
    }
    let shell = rings.remove(0);
    Some(Polygon::new(shell, rings))
}

/// The polygons of a GeoJSON Polygon or MultiPolygon.
fn polygons(d: DynRef<'_>) -> Option<Vec<Polygon<f64>>> {
    let coordinates = d.get("coordinates")?;
    match d.get("type")?.as_str()? {
        "Polygon" => Some(vec![polygon(coordinates)?]),
        "MultiPolygon" => {
            coordinates.len()?;
            let all: Option<Vec<_>> = coordinates.array_items().map(polygon).collect();
            all.filter(|p| !p.is_empty())
        }
        _ => None,
    }
}

/// A line of at least two positions.
fn line(d: DynRef<'_>) -> Option<LineString<f64>> {
    let coords = positions(d)?;
    (coords.len() >= 2).then(|| LineString::new(coords))
}

/// The lines of a GeoJSON LineString or MultiLineString.
fn lines(d: DynRef<'_>) -> Option<Vec<LineString<f64>>> {
    let coordinates = d.get("coordinates")?;
    match d.get("type")?.as_str()? {
        "LineString" => Some(vec![line(coordinates)?]),
        "MultiLineString" => {
            coordinates.len()?;
            let all: Option<Vec<_>> = coordinates.array_items().map(line).collect();
            all.filter(|l| !l.is_empty())
        }
        _ => None,
    }
}

/// The level and buffer radius arguments (1 and 2) of a covering.
fn level_and_radius(a: &Rows, r: usize, max_level: i64) -> Option<(i64, f64)> {
    let (level, radius) = (a.long(1, r)?, a.real(2, r)?);
    ((0..=max_level).contains(&level) && radius.is_finite() && radius >= 0.0).then_some((level, radius))
}

// ---- Geometry on the unit sphere ------------------------------------------

type Vec3 = [f64; 3];

fn xyz(c: Coord<f64>) -> Vec3 {
    let (lon, lat) = (c.x.to_radians(), c.y.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

fn scale(a: Vec3, k: f64) -> Vec3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

/// The angle between two unit vectors, in radians.
fn angle(a: Vec3, b: Vec3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b))
}

/// The angular distance from `p` to the geodesic arc `a`–`b`.
fn point_to_arc(p: Vec3, a: Vec3, b: Vec3) -> f64 {
    let n = cross(a, b);
    let len = norm(n);
    if len < 1e-15 {
        return angle(p, a).min(angle(p, b));
    }
    let n = scale(n, 1.0 / len);
    let off = dot(p, n);
    let foot = [p[0] - off * n[0], p[1] - off * n[1], p[2] - off * n[2]];
    if dot(cross(a, foot), n) >= 0.0 && dot(cross(foot, b), n) >= 0.0 {
        off.abs().min(1.0).asin()
    } else {
        angle(p, a).min(angle(p, b))
    }
}

/// The edges of a shape on the sphere, as unit-vector pairs.
fn arcs(rings: &[&LineString<f64>]) -> Vec<(Vec3, Vec3)> {
    rings.iter().flat_map(|l| l.lines().map(|s| (xyz(s.start), xyz(s.end)))).collect()
}

/// The angular distance between two shapes that do not intersect: the
/// nearest vertex–edge pair.
fn arcs_distance(x: &[(Vec3, Vec3)], y: &[(Vec3, Vec3)]) -> f64 {
    let one_way = |from: &[(Vec3, Vec3)], to: &[(Vec3, Vec3)]| {
        from.iter()
            .flat_map(|&(a, b)| [a, b])
            .flat_map(|p| to.iter().map(move |&(a, b)| point_to_arc(p, a, b)))
            .fold(f64::INFINITY, f64::min)
    };
    one_way(x, y).min(one_way(y, x))
}

/// A shape seen through the gnomonic projection centred on it: geodesics
/// become straight lines, so planar tests on the projection answer the
/// spherical questions for S2 cells, whose edges are geodesics too.
struct Projected {
    center: Vec3,
    e1: Vec3,
    e2: Vec3,
    /// The angle from `center` to the farthest vertex: the shape lies in
    /// this cap.
    radius: f64,
}

/// Vertices at least this far in front of the projection plane's horizon
/// (the cosine of the angle from the center) project reliably.
const MIN_PROJECTION_COS: f64 = 0.05;

impl Projected {
    /// The projection for shapes with these vertices, or None when they
    /// span a hemisphere (the projection cannot hold them).
    fn new(vertices: &[Coord<f64>]) -> Option<Projected> {
        let sum = vertices.iter().map(|&c| xyz(c)).fold([0.0; 3], |s, p| [s[0] + p[0], s[1] + p[1], s[2] + p[2]]);
        let len = norm(sum);
        if len < 1e-12 {
            return None;
        }
        let center = scale(sum, 1.0 / len);
        let radius = vertices.iter().map(|&c| angle(center, xyz(c))).fold(0.0, f64::max);
        if radius.cos() < MIN_PROJECTION_COS {
            return None;
        }
        let helper = if center[2].abs() < 0.9 { [0.0, 0.0, 1.0] } else { [1.0, 0.0, 0.0] };
        let e1 = cross(helper, center);
        let e1 = scale(e1, 1.0 / norm(e1));
        let e2 = cross(center, e1);
        Some(Projected { center, e1, e2, radius })
    }

    fn project(&self, p: Vec3) -> Option<Coord<f64>> {
        let d = dot(p, self.center);
        (d >= MIN_PROJECTION_COS).then(|| Coord { x: dot(p, self.e1) / d, y: dot(p, self.e2) / d })
    }

    fn project_line(&self, l: &LineString<f64>) -> Option<LineString<f64>> {
        l.coords().map(|&c| self.project(xyz(c))).collect::<Option<Vec<_>>>().map(LineString::new)
    }
}

// ---- S2 coverings -----------------------------------------------------------

/// One shape to cover with S2 cells.
enum Shape {
    Polygon(Polygon<f64>),
    Line(LineString<f64>),
}

impl Shape {
    fn rings(&self) -> Vec<&LineString<f64>> {
        match self {
            Shape::Polygon(p) => std::iter::once(p.exterior()).chain(p.interiors()).collect(),
            Shape::Line(l) => vec![l],
        }
    }
}

/// A shape prepared for cell tests.
struct Target {
    // (the spherical shape is kept as `arcs`)
    projection: Projected,
    /// The shape in the projection plane.
    planar: Shape,
    arcs: Vec<(Vec3, Vec3)>,
    /// The buffer radius as an angle.
    buffer: f64,
}

impl Target {
    fn new(shape: Shape, radius_m: f64) -> Option<Target> {
        let rings = shape.rings();
        let vertices: Vec<Coord<f64>> = rings.iter().flat_map(|l| l.coords().copied()).collect();
        let projection = Projected::new(&vertices)?;
        let planar = match &shape {
            Shape::Polygon(p) => Shape::Polygon(Polygon::new(
                projection.project_line(p.exterior())?,
                p.interiors().iter().map(|h| projection.project_line(h)).collect::<Option<Vec<_>>>()?,
            )),
            Shape::Line(l) => Shape::Line(projection.project_line(l)?),
        };
        let arcs = arcs(&rings);
        Some(Target { projection, planar, arcs, buffer: radius_m / EARTH_RADIUS_M })
    }
}

/// How a cell relates to a target.
#[derive(PartialEq)]
enum Relation {
    Disjoint,
    /// Touches the target (or its buffer), or may: refine or keep it.
    Intersects,
    /// Lies wholly inside a polygon: every descendant belongs.
    Inside,
}

fn relate(id: CellID, t: &Target) -> Relation {
    let center: Vec3 = {
        let p = Point::from(id).0;
        [p.x, p.y, p.z]
    };
    let corners: Vec<Vec3> = s2::cell::Cell::from(id).vertices().iter().map(|v| [v.0.x, v.0.y, v.0.z]).collect();
    let cell_radius = corners.iter().map(|&c| angle(center, c)).fold(0.0, f64::max);
    if angle(center, t.projection.center) > t.projection.radius + cell_radius + t.buffer + 1e-9 {
        return Relation::Disjoint;
    }
    let planar: Option<Vec<Coord<f64>>> = corners.iter().map(|&c| t.projection.project(c)).collect();
    let Some(mut planar) = planar else {
        // Too far out to project but within reach of the cap: keep it.
        return Relation::Intersects;
    };
    planar.push(planar[0]);
    let cell = Polygon::new(LineString::new(planar), vec![]);
    let touches = match &t.planar {
        Shape::Polygon(p) => {
            if p.contains(&cell) {
                return Relation::Inside;
            }
            p.intersects(&cell)
        }
        Shape::Line(l) => l.intersects(&cell),
    };
    if touches {
        return Relation::Intersects;
    }
    if t.buffer > 0.0 {
        let edges: Vec<(Vec3, Vec3)> = (0..4).map(|k| (corners[k], corners[(k + 1) % 4])).collect();
        if arcs_distance(&edges, &t.arcs) <= t.buffer {
            return Relation::Intersects;
        }
    }
    Relation::Disjoint
}

/// The level-`level` cells that meet any of `targets`, sorted by cell id, or
/// None past [`MAX_S2_CELLS`].
fn s2_covering(targets: &[Target], level: u64) -> Option<Vec<CellID>> {
    let mut out: Vec<CellID> = Vec::new();
    fn visit(id: CellID, level: u64, targets: &[Target], out: &mut Vec<CellID>) -> Option<()> {
        let mut relation = Relation::Disjoint;
        for t in targets {
            match relate(id, t) {
                Relation::Inside => {
                    relation = Relation::Inside;
                    break;
                }
                Relation::Intersects => relation = Relation::Intersects,
                Relation::Disjoint => {}
            }
        }
        match relation {
            Relation::Disjoint => Some(()),
            _ if id.level() == level => {
                out.push(id);
                (out.len() <= MAX_S2_CELLS).then_some(())
            }
            Relation::Inside => {
                let count = 1usize.checked_shl(2 * (level - id.level()) as u32).unwrap_or(usize::MAX);
                if out.len().saturating_add(count) > MAX_S2_CELLS {
                    return None;
                }
                out.extend(id.child_iter_at_level(level));
                Some(())
            }
            Relation::Intersects => {
                for child in id.children() {
                    visit(child, level, targets, out)?;
                }
                Some(())
            }
        }
    }
    for face in 0..6 {
        visit(CellID::from_face(face), level, targets, &mut out)?;
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

fn s2_tokens(shapes: Vec<Shape>, level: i64, radius: f64) -> Option<crate::dynamic::DynValue> {
    let targets: Option<Vec<Target>> = shapes.into_iter().map(|s| Target::new(s, radius)).collect();
    let cells = s2_covering(&targets?, level as u64)?;
    Some(string_array(cells.into_iter().map(|c| c.to_token())))
}

fn polygon_to_s2cells(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let (level, radius) = level_and_radius(a, r, s2_cells::MAX_LEVEL)?;
        let shapes = polygons(a.dynamic(0, r)?)?.into_iter().map(Shape::Polygon).collect();
        s2_tokens(shapes, level, radius)
    })
}

fn line_to_s2cells(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let (level, radius) = level_and_radius(a, r, s2_cells::MAX_LEVEL)?;
        let shapes = lines(a.dynamic(0, r)?)?.into_iter().map(Shape::Line).collect();
        s2_tokens(shapes, level, radius)
    })
}

// ---- H3 coverings -----------------------------------------------------------

/// The cells whose centroids lie inside the polygons (or within `radius_m`
/// of them), or None past [`MAX_H3_CELLS`] or for a polygon H3 rejects.
fn h3_covering(shapes: &[Polygon<f64>], resolution: h3o::Resolution, radius_m: f64) -> Option<Vec<CellIndex>> {
    let mut tiler = TilerBuilder::new(resolution).containment_mode(ContainmentMode::ContainsCentroid).build();
    for p in shapes {
        tiler.add(p.clone()).ok()?;
    }
    let mut cells: Vec<CellIndex> = Vec::new();
    for cell in tiler.into_coverage() {
        cells.push(cell);
        if cells.len() > MAX_H3_CELLS {
            return None;
        }
    }
    if radius_m > 0.0 {
        grow_by_radius(&mut cells, shapes, resolution, radius_m)?;
    }
    Some(cells)
}

/// Adds the cells whose centroids lie within `radius_m` of a polygon's
/// boundary: a walk outwards from the covering (or from the cells of the
/// polygons' first vertices when no centroid fell inside).
fn grow_by_radius(
    cells: &mut Vec<CellIndex>,
    shapes: &[Polygon<f64>],
    resolution: h3o::Resolution,
    radius_m: f64,
) -> Option<()> {
    let rings: Vec<&LineString<f64>> =
        shapes.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).collect();
    let edges = arcs(&rings);
    let buffer = radius_m / EARTH_RADIUS_M;
    let near = |cell: CellIndex| {
        let c = LatLng::from(cell);
        let p = xyz(Coord { x: c.lng(), y: c.lat() });
        edges.iter().any(|&(a, b)| point_to_arc(p, a, b) <= buffer)
    };
    let mut seen: HashSet<CellIndex> = cells.iter().copied().collect();
    let mut queue: VecDeque<CellIndex> = cells.iter().copied().collect();
    for p in shapes {
        if let Some(&c) = p.exterior().coords().next() {
            let start = LatLng::new(c.y, c.x).ok()?.to_cell(resolution);
            if seen.insert(start) && near(start) {
                cells.push(start);
                queue.push_back(start);
            }
        }
    }
    while let Some(cell) = queue.pop_front() {
        for n in cell.grid_disk::<Vec<CellIndex>>(1) {
            if seen.insert(n) && near(n) {
                cells.push(n);
                if cells.len() > MAX_H3_CELLS {
                    return None;
                }
                queue.push_back(n);
            }
        }
    }
    Some(())
}

fn polygon_to_h3cells(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dynamic_out(args, rows, |a: &Rows, r| {
        let (level, radius) = level_and_radius(a, r, 15)?;
        let shapes = polygons(a.dynamic(0, r)?)?;
        let cells = h3_covering(&shapes, h3_cells::resolution(level)?, radius)?;
        Some(string_array(cells.into_iter().map(|c| c.to_string())))
    })
}
