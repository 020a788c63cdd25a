//! Line and polygon geospatial functions, `geo_from_wkt`, and the
//! `geo_polygon_lookup` / `geo_line_lookup` plugins. Expected values cite
//! the reference page they follow (Kusto's measures are on a sphere of
//! radius 6,371,010 m); other cases use data written here.

mod common;

async fn run(q: &str) -> String {
    common::run_ok(q).await.replace("\r\n", "\n")
}

/// The single value of a one-cell result (CSV quoting removed).
async fn one(q: &str) -> String {
    let out = run(q).await;
    let cell = out.lines().nth(1).unwrap_or("").trim();
    match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => cell.to_string(),
    }
}

fn close(actual: &str, expected: f64, rel: f64) {
    let a: f64 = actual.parse().unwrap_or_else(|_| panic!("not a number: {actual}"));
    assert!((a - expected).abs() <= rel * expected.abs().max(1e-300), "{a} != {expected}");
}

const CENTRAL_PARK: &str = r#"dynamic({"type":"Polygon","coordinates":[[[-73.9495,40.7969],[-73.95807266235352,40.80068603561921],[-73.98201942443848,40.76825672305777],[-73.97317886352539,40.76455136505513],[-73.9495,40.7969]]]})"#;

#[tokio::test]
async fn line_length_on_the_sphere() {
    // geo-line-length-function.md, first example.
    let q = r#"print geo_line_length(dynamic({"type":"LineString","coordinates":[[-73.95807266235352,40.800426144169315],[-73.94966125488281,40.79691751000055],[-73.97317886352539,40.764486356930334]]}))"#;
    close(&one(q).await, 4922.48016992081, 1e-12);
    // One degree of the equator: pi/180 of the sphere's radius.
    let q = r#"print geo_line_length(dynamic({"type":"LineString","coordinates":[[0,0],[1,0]]}))"#;
    close(&one(q).await, 6_371_010.0 * std::f64::consts::PI / 180.0, 1e-12);
    // A line needs two points; coordinates must be in range.
    assert_eq!(
        one(r#"print isnull(geo_line_length(dynamic({"type":"LineString","coordinates":[[1,1]]})))"#).await,
        "true"
    );
    assert_eq!(
        one(r#"print isnull(geo_line_length(dynamic({"type":"LineString","coordinates":[[1,1],[1,91]]})))"#).await,
        "true"
    );
    assert_eq!(
        one(r#"print isnull(geo_line_length(dynamic({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]})))"#)
            .await,
        "true"
    );
}

#[tokio::test]
async fn polygon_measures() {
    // geo-polygon-area-function.md and geo-polygon-perimeter-function.md.
    close(&one(&format!("print geo_polygon_area({CENTRAL_PARK})")).await, 3475207.28346606, 1e-9);
    close(&one(&format!("print geo_polygon_perimeter({CENTRAL_PARK})")).await, 9930.30149604938, 1e-12);
    // A multipolygon's area is its union's: two copies count once.
    let twice =
        r#"dynamic({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[0,0],[1,0],[1,1],[0,0]]]]})"#;
    let single = r#"dynamic({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]})"#;
    let a: f64 = one(&format!("print geo_polygon_area({twice})")).await.parse().unwrap();
    close(&one(&format!("print geo_polygon_area({single})")).await, a, 1e-9);
    // Two distinct vertices make no polygon.
    assert_eq!(
        one(r#"print isnull(geo_polygon_area(dynamic({"type":"Polygon","coordinates":[[[0,0],[10,10],[10,10],[0,0]]]})))"#).await,
        "true"
    );
}

#[tokio::test]
async fn point_and_polygon() {
    assert_eq!(one(&format!("print geo_point_in_polygon(-73.9650, 40.7820, {CENTRAL_PARK})")).await, "true");
    assert_eq!(one(&format!("print geo_point_in_polygon(-73.9839, 40.7705, {CENTRAL_PARK})")).await, "false");
    assert_eq!(one(&format!("print isnull(geo_point_in_polygon(200, 1, {CENTRAL_PARK}))")).await, "true");
    // geo-distance-point-to-polygon-function.md, first example.
    close(
        &one(&format!("print geo_distance_point_to_polygon(-73.9839, 40.7705, {CENTRAL_PARK})")).await,
        259.940756070596,
        1e-9,
    );
    assert_eq!(one(&format!("print geo_distance_point_to_polygon(-73.9650, 40.7820, {CENTRAL_PARK})")).await, "0");
}

#[tokio::test]
async fn point_and_line() {
    let line = r#"dynamic({"type":"LineString","coordinates":[[0,0],[2,0]]})"#;
    // The closest point of the equator to (1, 1) is (1, 0), one degree away.
    close(
        &one(&format!("print geo_distance_point_to_line(1, 1, {line})")).await,
        6_371_010.0 * std::f64::consts::PI / 180.0,
        1e-9,
    );
    let q = format!(
        "print p = geo_closest_point_on_line(1, 1, {line}) | project todouble(p.coordinates[0]), tostring(p.type)"
    );
    let out = run(&q).await;
    let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
    close(row[0], 1.0, 1e-12);
    assert_eq!(row[1], "Point");
    close(&one(&format!("print geo_line_locate_point({line}, 0.5, 1)")).await, 0.25, 1e-9);
    let mid = one(&format!("print tostring(geo_line_interpolate_point({line}, 0.5))")).await;
    assert_eq!(mid, r#"{"type":"Point","coordinates":[1,0]}"#);
    assert_eq!(one(&format!("print isnull(geo_line_interpolate_point({line}, 1.5))")).await, "true");
}

#[tokio::test]
async fn densify_splits_planar_edges() {
    // geo-line-densify-function.md: a diagonal degree becomes 8 parts.
    let q = r#"print tostring(geo_line_densify(dynamic({"type":"LineString","coordinates":[[50,50],[51,51]]})))"#;
    assert_eq!(
        one(q).await,
        r#"{"type":"LineString","coordinates":[[50,50],[50.125,50.125],[50.25,50.25],[50.375,50.375],[50.5,50.5],[50.625,50.625],[50.75,50.75],[50.875,50.875],[51,51]]}"#
    );
    // A meridian is a geodesic already; a parallel at 10° is not.
    let q = r#"print tostring(geo_polygon_densify(dynamic({"type":"Polygon","coordinates":[[[10,10],[11,10],[11,11],[10,11],[10,10]]]})))"#;
    assert_eq!(
        one(q).await,
        r#"{"type":"Polygon","coordinates":[[[10,10],[10.25,10],[10.5,10],[10.75,10],[11,10],[11,11],[10.75,11],[10.5,11],[10.25,11],[10,11],[10,10]]]}"#
    );
    assert_eq!(
        one(r#"print isnull(geo_line_densify(dynamic({"type":"LineString","coordinates":[[0,0],[1,1]]}), 0))"#).await,
        "true"
    );
}

#[tokio::test]
async fn simplify_drops_close_vertices() {
    let line = r#"dynamic({"type":"LineString","coordinates":[[0,0],[0.5,0.00001],[1,0]]})"#;
    assert_eq!(
        one(&format!("print tostring(geo_line_simplify({line}, 10))")).await,
        r#"{"type":"LineString","coordinates":[[0,0],[1,0]]}"#
    );
    assert_eq!(
        one(&format!("print tostring(geo_line_simplify({line}, 0.1))")).await,
        r#"{"type":"LineString","coordinates":[[0,0],[0.5,0.00001],[1,0]]}"#
    );
    assert_eq!(one(&format!("print isnull(geo_line_simplify({line}, -1))")).await, "true");
    // geo-line-simplify-function.md: tolerances reach ~7,800,000 m.
    assert_eq!(one(&format!("print isnull(geo_line_simplify({line}, 8000000))")).await, "true");
    // A line within the tolerance of one point collapses.
    assert_eq!(one(&format!("print isnull(geo_line_simplify({line}, 1000000))")).await, "true");
    assert_eq!(one(&format!("print isnull(geo_polygon_simplify({CENTRAL_PARK}, 1000000))")).await, "true");
}

#[tokio::test]
async fn centroids() {
    // geo-polygon-centroid-function.md and geo-line-centroid-function.md.
    let q = format!("print c = geo_polygon_centroid({CENTRAL_PARK}) | project lng = c.coordinates[0]");
    close(&one(&q).await, -73.9657356899076, 1e-12);
    let q = r#"print c = geo_line_centroid(dynamic({"type":"LineString","coordinates":[[0,0],[2,0]]})) | project todouble(c.coordinates[0])"#;
    close(&one(q).await, 1.0, 1e-12);
}

#[tokio::test]
async fn from_wkt() {
    assert_eq!(
        one(r#"print tostring(geo_from_wkt("LINESTRING (1 2, 3 4)"))"#).await,
        r#"{"type":"LineString","coordinates":[[1,2],[3,4]]}"#
    );
    assert_eq!(
        one(r#"print tostring(geo_from_wkt("POINT (1.5 2)"))"#).await,
        r#"{"type":"Point","coordinates":[1.5,2]}"#
    );
    assert_eq!(one(r#"print isnull(geo_from_wkt("LINESTRING"))"#).await, "true");
    assert_eq!(one(r#"print isnull(geo_from_wkt("POINT (200 0)"))"#).await, "true");
}

#[tokio::test]
async fn boolean_operations() {
    let a = r#"dynamic({"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]})"#;
    let b = r#"dynamic({"type":"Polygon","coordinates":[[[1,1],[3,1],[3,3],[1,3],[1,1]]]})"#;
    let far = r#"dynamic({"type":"Polygon","coordinates":[[[10,10],[11,10],[11,11],[10,10]]]})"#;
    assert_eq!(one(&format!("print geo_intersects_2polygons({a}, {b})")).await, "true");
    assert_eq!(one(&format!("print geo_intersects_2polygons({a}, {far})")).await, "false");
    assert_eq!(
        one(&format!("print tostring(geo_intersection_2polygons({a}, {far}))")).await,
        r#"{"type":"GeometryCollection","geometries":[]}"#
    );
    // The crossings lie on the great circles: the area shared is a little
    // less than a planar square degree would suggest, and positive.
    let shared = one(&format!("print geo_polygon_area(geo_intersection_2polygons({a}, {b}))")).await;
    let shared: f64 = shared.parse().unwrap();
    assert!(shared > 1.2e10 && shared < 1.3e10, "{shared}");
    let union: f64 =
        one(&format!("print geo_polygon_area(geo_union_polygons_array(pack_array({a}, {b})))")).await.parse().unwrap();
    let single: f64 = one(&format!("print geo_polygon_area({a})")).await.parse().unwrap();
    assert!(union > single && union < 2.0 * single, "{union} vs {single}");

    let l1 = r#"dynamic({"type":"LineString","coordinates":[[0,-1],[0,1]]})"#;
    let l2 = r#"dynamic({"type":"LineString","coordinates":[[-1,0],[1,0]]})"#;
    assert_eq!(one(&format!("print geo_intersects_2lines({l1}, {l2})")).await, "true");
    assert_eq!(
        one(&format!("print tostring(geo_intersection_2lines({l1}, {l2}))")).await,
        r#"{"type":"Point","coordinates":[0,0]}"#
    );
    assert_eq!(one(&format!("print isnull(geo_intersects_2lines({l1}, {a}))")).await, "true");
    assert_eq!(one(&format!("print geo_intersects_line_with_polygon({l2}, {a})")).await, "true");
    let clipped = one(&format!("print tostring(geo_intersection_line_with_polygon({l2}, {a}))")).await;
    assert_eq!(clipped, r#"{"type":"LineString","coordinates":[[0,0],[1,0]]}"#);
}

#[tokio::test]
async fn clipping_crosses_at_great_circles() {
    // geo-intersection-line-with-polygon-function.md, the multiline example:
    // the crossings are where the geodesic edges meet, far from where the
    // planar edges would.
    let q = r#"let lineString = dynamic({"type":"LineString","coordinates":[[-110.522, 39.198],[-91.428, 40.880]]});
let polygon = dynamic({"type":"Polygon","coordinates":[[[-90.263,36.738],[-102.041,45.274],[-109.335,36.527],[-90.263,36.738]],[[-100.393,41.705],[-103.139,38.925],[-97.558,39.113],[-100.393,41.705]]]});
print r = geo_intersection_line_with_polygon(lineString, polygon)
| project t = tostring(r.type), a = todouble(r.coordinates[0][0][0]), b = todouble(r.coordinates[0][0][1]), c = todouble(r.coordinates[1][1][0]), d = todouble(r.coordinates[1][1][1])"#;
    let out = run(q).await;
    let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').map(str::trim).collect();
    assert_eq!(row[0], "MultiLineString");
    close(row[1], -106.89353655881905, 1e-12);
    close(row[2], 39.769226209776306, 1e-12);
    close(row[3], -95.284_527_737_311_79, 1e-12);
    close(row[4], 40.799_060_242_246_35, 1e-12);
}

#[tokio::test]
async fn union_of_lines_joins_shared_stretches() {
    let q = r#"print tostring(geo_union_lines_array(dynamic([{"type":"LineString","coordinates":[[0,0],[1,0],[2,0]]},{"type":"LineString","coordinates":[[1,0],[2,0],[3,0]]}])))"#;
    assert_eq!(one(q).await, r#"{"type":"LineString","coordinates":[[0,0],[1,0],[2,0],[3,0]]}"#);
    let q = r#"print isnull(geo_union_lines_array(dynamic([{"type":"LineString","coordinates":[[0,0],[1,0]]},{"type":"LineString","coordinates":[[1,1]]}])))"#;
    assert_eq!(one(q).await, "true");
}

#[tokio::test]
async fn buffers() {
    // A circle: every vertex is the radius away from the centre.
    // A circle: its perimeter is 2·pi·r, within the chord tolerance.
    close(
        &one("print geo_polygon_perimeter(geo_point_buffer(10, 20, 1000, 0.1))").await,
        2.0 * std::f64::consts::PI * 1000.0,
        1e-3,
    );
    let inside = one("print geo_point_in_polygon(10.005, 20, geo_point_buffer(10, 20, 1000))").await;
    let outside = one("print geo_point_in_polygon(10.02, 20, geo_point_buffer(10, 20, 1000))").await;
    assert_eq!((inside.as_str(), outside.as_str()), ("true", "false"));
    assert_eq!(one("print isnull(geo_point_buffer(10, 10, -1))").await, "true");
    assert_eq!(one("print isnull(geo_point_buffer(200, 1, 0.1))").await, "true");
    // geo-polygon-buffer-function.md: the tolerance is at least 0.0001% of the radius.
    assert_eq!(one("print isnull(geo_point_buffer(10, 10, 1000000, 0.5))").await, "true");
    let line = r#"dynamic({"type":"LineString","coordinates":[[0,0],[0.01,0]]})"#;
    assert_eq!(one(&format!("print geo_point_in_polygon(0.005, 0.0005, geo_line_buffer({line}, 100))")).await, "true");
    assert_eq!(one(&format!("print geo_point_in_polygon(0.005, 0.002, geo_line_buffer({line}, 100))")).await, "false");
    assert_eq!(one(&format!("print isnull(geo_line_buffer({line}, 0))")).await, "true");
    let grown = one(&format!(
        "print geo_polygon_area(geo_polygon_buffer({CENTRAL_PARK}, 100)) > geo_polygon_area({CENTRAL_PARK})"
    ))
    .await;
    assert_eq!(grown, "true");
}

#[tokio::test]
async fn bind_checks() {
    common::check_error("print geo_line_length('x')", "geo_line_length").await;
    common::check_error("print geo_point_in_polygon(1, 2)", "geo_point_in_polygon").await;
    common::check_error("print geo_point_in_polygon(1, 2, 'x')", "geo_point_in_polygon").await;
    // Microsoft's binder takes a number for the preserve_crossing flag.
    assert_eq!(
        one(r#"print isnull(geo_line_densify(dynamic({"type":"LineString","coordinates":[[0,0],[1,1]]}), 10, 1))"#)
            .await,
        "false"
    );
}

const ROADS: &str = r#"let roads = datatable(road_name:string, road:dynamic)
[
    "A", dynamic({"type":"LineString","coordinates":[[0,0],[0.01,0]]}),
    "B", dynamic({"type":"LineString","coordinates":[[5,5],[5.01,5]]}),
];
let points = datatable(name:string, lng:real, lat:real)
[
    "near A", 0.005, 0.0001,
    "far", 2.0, 2.0,
];"#;

#[tokio::test]
async fn line_lookup() {
    // geo-line-lookup-plugin.md: rows within the radius of a line.
    let out = run(&format!("{ROADS} points | evaluate geo_line_lookup(roads, road, lng, lat, 100)")).await;
    assert_eq!(
        out.lines().next().unwrap().split(',').map(str::trim).collect::<Vec<_>>(),
        ["name", "lng", "lat", "road_name"]
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').map(str::trim).collect();
    assert_eq!((row[0], row[3]), ("near A", "A"), "{out}");
    let out = run(&format!(
        "{ROADS} points | evaluate geo_line_lookup(roads, road, lng, lat, 100, return_unmatched = true, return_lookup_key = true) | where name == 'far' | project isempty(road_name), isnull(road)"
    ))
    .await;
    assert_eq!(out.lines().nth(1).unwrap().replace(' ', ""), "true,true");
}

#[tokio::test]
async fn polygon_lookup() {
    let q = r#"let zones = datatable(zone:string, shape:dynamic)
[
    "square", dynamic({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}),
];
datatable(name:string, lng:real, lat:real) ["in", 0.5, 0.5, "out", 2.0, 2.0]
| evaluate geo_polygon_lookup(zones, shape, lng, lat)
| project name, zone"#;
    let out = run(q).await;
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().nth(1).unwrap().contains("in"), "{out}");
}
