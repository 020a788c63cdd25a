//! The less common built-ins of the KQL reference: t-digests, the bitwise
//! and schema aggregates, compression and punycode, the beta distribution
//! and Welch's test, and the metadata functions. Each test cites the
//! reference page it follows; values are our own unless the page's
//! example is named.

mod common;

async fn run(q: &str) -> String {
    common::run_ok(q).await.replace("\r\n", "\n")
}

/// The single value of a one-cell result.
async fn one(q: &str) -> String {
    let out = run(q).await;
    out.lines().nth(1).unwrap_or("").to_string()
}

fn close(actual: &str, expected: f64, tolerance: f64) {
    let a: f64 = actual.parse().unwrap_or_else(|_| panic!("not a number: {actual}"));
    assert!((a - expected).abs() <= tolerance, "{a} != {expected}");
}

/// merge-tdigest-function: the 100th percentile of the merged digests of
/// 1..10 and 11..20 is 20 (the page's example), and a digest's percentiles
/// agree with `percentile()` of the same values.
#[tokio::test]
async fn tdigest_percentiles_agree_with_percentile() {
    let q = "range x from 1 to 10 step 1 | extend y = x + 10 \
             | summarize tdigestX = tdigest(x), tdigestY = tdigest(y) \
             | project merged = merge_tdigest(tdigestX, tdigestY) \
             | project p = percentile_tdigest(merged, 100, typeof(long))";
    assert_eq!(run(q).await, "p\n20\n");
    for p in [0, 10, 37, 50, 90, 99, 100] {
        let q = format!(
            "range x from 1 to 97 step 3 | extend x = x * x % 101 \
             | summarize d = tdigest(x), e = percentile(x, {p}) | project a = tolong(percentile_tdigest(d, {p})), e"
        );
        let out = run(&q).await;
        let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(row[0], row[1], "percentile {p}: {out}");
    }
    common::check_partitioned(
        "range x from 1 to 100 step 1 | summarize d = tdigest(x) by g = x % 4 \
         | summarize m = merge_tdigest(d) | project p = percentiles_array_tdigest(m, 25, 50, 100), \
           r = rank_tdigest(m, 50), pr = percentrank_tdigest(m, 25)",
        "p,r,pr\n\"[25,50,100]\",50,25\n",
    )
    .await;
    // The value keeps its type: a datetime digest gives datetimes.
    assert_eq!(
        one("range t from datetime(2024-01-01) to datetime(2024-01-10) step 1d | summarize d = tdigest(t) \
             | project p = todatetime(percentile_tdigest(d, 50))")
        .await,
        "2024-01-05T00:00:00Z"
    );
    assert_eq!(run("range x from 1 to 3 step 1 | summarize tdigest(x)").await.lines().next(), Some("tdigest_x"));
    assert_eq!(
        run("range x from 1 to 3 step 1 | summarize t = tdigest(x) | summarize merge_tdigest(t)").await.lines().next(),
        Some("merge_tdigests_t")
    );
    common::check_error("print tdigest('a')", "").await;
    common::check_error("range x from 1 to 3 step 1 | summarize tdigest(tostring(x))", "tdigest").await;
}

/// binary-all-and / binary-all-xor aggregation function pages: the examples
/// fold four values to CAFEF00D.
#[tokio::test]
async fn bitwise_aggregates() {
    let and = "datatable(num:long)[0xFFFFFFFF, 0xFFFFF00F, 0xCFFFFFFD, 0xFAFEFFFF] \
               | summarize result = toupper(tohex(binary_all_and(num)))";
    assert_eq!(one(and).await, "CAFEF00D");
    let xor = "datatable(num:long)[0x44404440, 0x1E1E1E1E, 0x90ABBA09, 0x000B105A] \
               | summarize result = toupper(tohex(binary_all_xor(num)))";
    assert_eq!(one(xor).await, "CAFEF00D");
    assert_eq!(one("datatable(num:long)[1, 2, 8] | summarize r = binary_all_or(num)").await, "11");
}

/// variancepif / covariancepif: the population statistics of the rows the
/// predicate keeps.
#[tokio::test]
async fn population_statistics_with_predicates() {
    let q = "datatable(x:long, y:long)[1, 2, 2, 4, 3, 6, 100, 0] \
             | summarize v = variancepif(x, x < 10), c = covariancepif(x, y, x < 10)";
    let out = run(q).await;
    let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
    close(row[0], 2.0 / 3.0, 1e-12);
    close(row[1], 4.0 / 3.0, 1e-12);
}

/// buildschema aggregation function: the page's example.
#[tokio::test]
async fn buildschema_of_bags() {
    let q = r#"datatable(value: dynamic) [
        dynamic({"x":1, "y":3.5}),
        dynamic({"x":"somevalue", "z":[1, 2, 3]}),
        dynamic({"y":{"w":"zzz"}, "t":["aa", "bb"], "z":["foo"]})
    ] | summarize buildschema(value)"#;
    let expected = r#"{"x":["long","string"],"y":["double",{"w":"string"}],"z":{"`indexer`":["long","string"]},"t":{"`indexer`":"string"}}"#;
    let out = run(q).await;
    assert_eq!(out.lines().next(), Some("schema_value"));
    let got: serde_json::Value = serde_json::from_str(&csv_cell(out.lines().nth(1).unwrap())).unwrap();
    assert_eq!(got, serde_json::from_str::<serde_json::Value>(expected).unwrap());
}

/// A CSV cell's text (quotes removed).
fn csv_cell(cell: &str) -> String {
    let cell = cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')).unwrap_or(cell);
    cell.replace("\"\"", "\"")
}

/// gzip/zlib base64 pages: the decompression examples, invalid input gives
/// "", and compression round-trips.
#[tokio::test]
async fn compression() {
    assert_eq!(
        one(r#"print res=gzip_decompress_from_base64_string("H4sIAAAAAAAA/wEUAOv/MTIzNDU2Nzg5MHF3ZXJ0eXVpb3A6m7f2FAAAAA==")"#).await,
        "1234567890qwertyuiop"
    );
    assert_eq!(one(r#"print res=gzip_decompress_from_base64_string("x0x0x0")"#).await, "");
    assert_eq!(
        one(r#"print z = zlib_decompress_from_base64_string("eJwLSS0uUSguKcrMS1cwNDIGACxqBQ4=")"#).await,
        "Test string 123"
    );
    assert_eq!(one(r#"print z = zlib_decompress_from_base64_string("x0x0x0")"#).await, "");
    assert_eq!(
        one("print s = gzip_decompress_from_base64_string(gzip_compress_to_base64_string('kqlite ✓ kqlite'))").await,
        "kqlite ✓ kqlite"
    );
    assert_eq!(
        one("print s = zlib_decompress_from_base64_string(zlib_compress_to_base64_string('abcabcabc'))").await,
        "abcabcabc"
    );
}

/// punycode_from_string, punycode_to_string and the domain forms (the domain
/// pages: punycode_domain_to_string encodes, punycode_domain_from_string decodes).
#[tokio::test]
async fn punycode() {
    assert_eq!(one("print e = punycode_from_string('académie-française')").await, "acadmie-franaise-npb1a");
    assert_eq!(one("print e = punycode_to_string('acadmie-franaise-npb1a')").await, "académie-française");
    assert_eq!(one("print e = punycode_from_string('艺术')").await, "cqv902d");
    assert_eq!(
        one("print d = punycode_domain_to_string('Riðill｡Skáldskaparmál｡org')").await,
        "xn--Riill-jta.xn--Skldskaparml-dbbj.org"
    );
    assert_eq!(one("print d = punycode_domain_from_string('xn--cqv902d.com')").await, "艺术.com");
    assert_eq!(one("print d = punycode_to_string('xn--!!')").await, "");
    assert_eq!(one("print u = isutf8('Kusto ✓')").await, "true");
}

/// beta_cdf / beta_pdf pages (their examples) and beta_inv as the inverse.
#[tokio::test]
async fn beta_distribution_and_welch() {
    close(&one("print b = beta_cdf(0.9, 10.0, 20.0)").await, 0.999999999999959, 1e-12);
    close(&one("print b = beta_pdf(0.5, 10.0, 20.0)").await, 0.746176019310951, 1e-9);
    assert_eq!(one("print b = beta_cdf(1.5, 10.0, 20.0)").await, "NaN");
    assert_eq!(one("print b = beta_pdf(0.1, -1.0, 20.0)").await, "NaN");
    close(&one("print x = beta_inv(beta_cdf(0.25, 2, 3), 2, 3)").await, 0.25, 1e-9);
    // welch_test page: a two-sided p-value; equal samples give 1.
    close(&one("print p = welch_test(10.0, 4.0, 20, 10.0, 9.0, 30)").await, 1.0, 1e-12);
    let p: f64 = one("print p = welch_test(20.0, 1.0, 15, 22.0, 2.0, 15)").await.parse().unwrap();
    assert!(p > 0.0 && p < 0.001, "{p}");
}

/// repeat, set_equals, array_strcat, ipv4_range_to_cidr_list, hash_many.
#[tokio::test]
async fn values_and_addresses() {
    assert_eq!(one("print r = repeat('ab', 3)").await, r#""[""ab"",""ab"",""ab""]""#);
    assert_eq!(one("print r = repeat(1.5, 0)").await, r#"[]"#);
    assert_eq!(one("print r = set_equals(dynamic([1, 2, 2, 3]), dynamic([3, 1, 2]))").await, "true");
    assert_eq!(one("print r = set_equals(dynamic([1, 2]), dynamic([1, '2']))").await, "false");
    assert_eq!(one("print r = array_strcat(dynamic([1, 2, 3]), '-')").await, "1-2-3");
    assert_eq!(
        one("print r = ipv4_range_to_cidr_list('1.1.128.0', '1.1.140.255')").await,
        r#""[""1.1.128.0/21"",""1.1.136.0/22"",""1.1.140.0/24""]""#
    );
    assert_eq!(one("print r = isnull(ipv4_range_to_cidr_list('1.1.1', '1.1.1.1'))").await, "true");
    // hash_many hashes each value as hash() does and combines the hashes.
    assert_eq!(
        one("print r = hash_many('Hello', 'World') == hash_combine(hash('Hello'), hash('World'))").await,
        "true"
    );
    assert_eq!(one("print r = hash_combine(1, 2) != hash_combine(2, 1)").await, "true");
}

/// column_names_of, bag_pack_columns (the pages' examples), assert,
/// current_database, datetime_list_timezones and estimate_data_size.
#[tokio::test]
async fn metadata_functions() {
    assert_eq!(
        one("let T = datatable(A:string, B:int) []; print Columns=column_names_of(T)").await,
        r#""[""A"",""B""]""#
    );
    assert_eq!(
        one("let MyFunction1 = (param1:int) { print A=\"\", B=1 }; print Columns=column_names_of(MyFunction1(1))")
            .await,
        r#""[""A"",""B""]""#
    );
    assert_eq!(
        run(r#"datatable(Id: string, Value: string, Other: long)["A", "val_a", 1]
               | extend Packed = bag_pack_columns(Id, Value)"#)
        .await,
        "Id,Value,Other,Packed\nA,val_a,1,\"{\"\"Id\"\":\"\"A\"\",\"\"Value\"\":\"\"val_a\"\"}\"\n"
    );
    common::check_error("print x = bag_pack_columns(1)", "column name").await;
    assert_eq!(one("print a = assert(1 < 2, 'fine')").await, "true");
    common::check_error("print a = assert(1 > 2, 'one is not above two')", "one is not above two").await;
    assert_eq!(one("print d = current_database()").await, "kqlite");
    assert_eq!(one("print n = set_has_element(datetime_list_timezones(), 'Europe/Paris')").await, "true");
    assert_eq!(one("print s = estimate_data_size(1, 'abc', now())").await, "19");
}

/// bin_auto page: the example rounds by the `set` size and alignment; without
/// a size the query fails with a clear error.
#[tokio::test]
async fn bin_auto_uses_the_query_options() {
    let q = "set query_bin_auto_size=1h;\nset query_bin_auto_at=datetime(2017-01-01 00:05);\n\
             range Timestamp from datetime(2017-01-01 00:05) to datetime(2017-01-01 02:00) step 1m \
             | summarize count() by bin_auto(Timestamp) | order by Timestamp asc";
    assert_eq!(run(q).await, "Timestamp,count_\n2017-01-01T00:05:00Z,60\n2017-01-01T01:05:00Z,56\n");
    common::check_error("print b = bin_auto(now())", "query_bin_auto_size").await;
}
