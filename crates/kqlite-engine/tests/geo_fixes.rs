//! Fixes to the geospatial functions found by the documentation examples:
//! where the rings of `geo_union_polygons_array` start. Expected values
//! cite the reference page they come from.

mod common;

async fn one(q: &str) -> String {
    let out = common::run_ok(q).await.replace("\r\n", "\n");
    let cell = out.lines().nth(1).unwrap_or("").trim();
    match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => cell.to_string(),
    }
}

/// The first vertex of the first ring of `shape` (a query's dynamic
/// expression) as `(lng, lat)`.
async fn first_vertex(prefix: &str, shape: &str) -> (f64, f64) {
    let q = format!("{prefix} | project u = {shape} | project c = strcat(todouble(u.coordinates[0][0][0]), ',', todouble(u.coordinates[0][0][1]))");
    let cell = one(&q).await;
    let (x, y) = cell.split_once(',').unwrap_or_else(|| panic!("no vertex: {cell}"));
    (x.parse().unwrap(), y.parse().unwrap())
}

fn near(actual: (f64, f64), expected: (f64, f64)) {
    assert!((actual.0 - expected.0).abs() < 1e-9 && (actual.1 - expected.1).abs() < 1e-9, "{actual:?} != {expected:?}");
}

const THREE_POLYGONS: &str = r#"datatable(polygons:dynamic)
[
    dynamic({"type":"Polygon","coordinates":[[[-73.9495,40.7969],[-73.95807,40.80068],[-73.98201,40.76825],[-73.97317,40.76455],[-73.9495,40.7969]]]}),
    dynamic({"type":"Polygon","coordinates":[[[-73.94622,40.79249],[-73.96888,40.79282],[-73.9577,40.7789],[-73.94622,40.79249]]]}),
    dynamic({"type":"Polygon","coordinates":[[[-73.97335,40.77274],[-73.9936,40.76630],[-73.97171,40.75655],[-73.97335,40.77274]]]})
]
| summarize arr = make_list(polygons)"#;

#[tokio::test]
async fn union_of_three_polygons_starts_where_s2_merges_them() {
    // geo-union-polygons-array-function.md, first example: S2 merges the
    // two triangles first, then the quadrilateral with them; the ring ends
    // with the last edge of the last triangle, so it starts at the crossing
    // of that edge with the quadrilateral.
    let v = first_vertex(THREE_POLYGONS, "geo_union_polygons_array(arr)").await;
    near(v, (-73.972_599_326_729_61, 40.765_330_371_902_99));
}

#[tokio::test]
async fn union_of_two_polygons_keeps_the_first_vertex() {
    // geo-union-polygons-array-function.md, second example: the triangle is
    // merged into the quadrilateral, whose last edge ends the ring.
    let prefix = r#"datatable(polygon1:dynamic, polygon2:dynamic)
[
    dynamic({"type":"Polygon","coordinates":[[[-73.9495,40.7969],[-73.95807,40.80068],[-73.98201,40.76825],[-73.97317,40.76455],[-73.9495,40.7969]]]}), dynamic({"type":"Polygon","coordinates":[[[-73.94622,40.79249],[-73.96888,40.79282],[-73.9577,40.7789],[-73.94622,40.79249]]]})
]"#;
    let v = first_vertex(prefix, "geo_union_polygons_array(pack_array(polygon1, polygon2))").await;
    near(v, (-73.9495, 40.7969));
}

#[tokio::test]
async fn union_of_geohash_cells_starts_at_the_south_west_corner() {
    // geo-geohash-neighbors-function.md, union of 'sunny' and its neighbors.
    let prefix = "print cells = array_concat(pack_array('sunny'), geo_geohash_neighbors('sunny'))
| mv-expand cells to typeof(string)
| project polygons = geo_geohash_to_polygon(cells)
| summarize arr = make_list(polygons)";
    let v = first_vertex(prefix, "geo_union_polygons_array(arr)").await;
    near(v, (42.4072265625, 23.642578125));
}

#[tokio::test]
async fn union_of_a_single_polygon_keeps_its_ring() {
    // Data written here: one polygon comes back unchanged, starting where
    // its ring starts.
    let prefix = r#"print p = dynamic({"type":"Polygon","coordinates":[[[1,1],[2,1],[2,2],[1,2],[1,1]]]})"#;
    let v = first_vertex(prefix, "geo_union_polygons_array(pack_array(p))").await;
    near(v, (1.0, 1.0));
}

#[tokio::test]
async fn s2_neighbors_in_kusto_order() {
    // geo-s2cell-neighbors-function.md, first example.
    assert_eq!(
        one("print n = geo_s2cell_neighbors('89c259')").await,
        r#"["89c25d","89c2f9","89c251","89c257","89c25f","89c25b","89c2f7","89c2f5"]"#
    );
}

#[tokio::test]
async fn geohash_neighbors_in_kusto_order() {
    // geo-geohash-neighbors-function.md, first example.
    assert_eq!(
        one("print n = geo_geohash_neighbors('sunny')").await,
        r#"["sunnt","sunpj","sunnx","sunpn","sunnv","sunpp","sunnz","sunnw"]"#
    );
}

#[tokio::test]
async fn union_of_s2_cells_starts_where_kusto_starts_it() {
    // geo-s2cell-neighbors-function.md, union of '89c259' and its
    // neighbors: the merge order follows the order of the neighbors.
    let prefix = "print cells = array_concat(pack_array('89c259'), geo_s2cell_neighbors('89c259'))
| mv-expand cells to typeof(string)
| project polygons = geo_s2cell_to_polygon(cells)
| summarize arr = make_list(polygons)";
    let v = first_vertex(prefix, "geo_union_polygons_array(arr)").await;
    near(v, (-73.841_906_340_776_25, 40.695446474556284));
}
