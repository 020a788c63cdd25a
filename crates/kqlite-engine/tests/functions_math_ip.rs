//! Math, hashing and IP functions, end to end. Expected values come from
//! the examples in the KQL reference unless noted.

mod common;

use common::{check_fails as check_error, run};

/// Runs `q` and compares its CSV output (header and rows) with `expected`.
async fn check(q: &str, expected: &[&str]) {
    let got = run(q).await;
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got, expected, "query: {q}");
}

/// The KQL type of each column of `q`'s result, as `getschema` reports it.
async fn check_types(q: &str, expected: &[&str]) {
    let got = run(&format!("{q} | getschema | project ColumnType")).await;
    let got: Vec<&str> = got.lines().skip(1).collect();
    assert_eq!(got, expected, "query: {q}");
}

#[tokio::test]
async fn max_of_and_min_of() {
    check("print result = max_of(10, 1, -3, 17)", &["result", "17"]).await;
    check(
        "datatable (A: int, B: int)[1, 6, 8, 1, int(null), 2, 1, int(null), int(null), int(null)] | project r = max_of(A, B)",
        &["r", "6", "8", "2", "1", ""],
    )
    .await;
    check(
        "datatable (A: int, B: int)[5, 2, 10, 1, int(null), 3, 1, int(null), int(null), int(null)] | project r = min_of(A, B)",
        &["r", "2", "1", "3", "1", ""],
    )
    .await;
    // Mixed numbers promote; strings, datetimes and bools are orderable too.
    check(
        "print a = max_of(1, 2.5), b = min_of(int(3), long(2)), c = min_of('b', 'a'), d = max_of(datetime(2020-01-01), datetime(2021-01-01)), e = max_of(false, true)",
        &["a,b,c,d,e", "2.5,2,a,2021-01-01T00:00:00Z,true"],
    )
    .await;
    check_types(
        "print max_of(int(1), long(2)), max_of(1, 2.0), min_of(int(1), int(2)), max_of(1s, 2s), min_of(true, false)",
        &["long", "real", "int", "timespan", "bool"],
    )
    .await;
    check_error("print max_of(1, 'a')").await;
    check_error("print max_of(1)").await;
    check_error("print max_of(dynamic(1), dynamic(2))").await;
}

#[tokio::test]
async fn rounding() {
    check("print c1 = ceiling(-1.1), c2 = ceiling(0), c3 = ceiling(0.9)", &["c1,c2,c3", "-1,0,1"]).await;
    check_types(
        "print ceiling(1), ceiling(int(1)), ceiling(1.5), round(int(1)), round(long(1), 1), round(1.5), abs(int(-1))",
        &["long", "int", "real", "int", "long", "real", "long"],
    )
    .await;
    check(
        "print a = round(2.98765, 3), b = round(2.15, 1), c = round(2.15), d = round(-50.55, -2), e = round(21.5, -1)",
        &["a,b,c,d,e", "2.988,2.2,2,-100,20"],
    )
    .await;
    // Integers keep their type; midpoints round away from zero.
    check(
        "print a = round(int(17), -1), b = round(long(1250), -2), c = round(9007199254740993, 2), d = round(-2.5), e = round(real(null))",
        &["a,b,c,d,e", "20,1300,9007199254740993,-3,"],
    )
    .await;
    check("print a = abs(int(-3)), c = abs(-1.5), d = abs(-2s)", &["a,c,d", "3,1.5,00:00:02"]).await;
    check_error("print ceiling(1s)").await;
    check_error("print round(2.5, 1.5)").await;
}

#[tokio::test]
async fn exponents_and_logarithms() {
    check("print result = log(5)", &["result", "1.6094379124341003"]).await;
    check("print result = pow(2, 3)", &["result", "8"]).await;
    check(
        "print a = exp(0), b = exp2(3), c = exp10(2), d = log2(8), e = log10(1000), f = sqrt(4)",
        &["a,b,c,d,e,f", "1,8,100,3,3,2"],
    )
    .await;
    check_types(
        "print sqrt(int(4)), pow(int(2), int(3)), log(decimal(1)), sign(long(1))",
        &["real", "real", "real", "real"],
    )
    .await;
    // Negative or null arguments give null; log(0) is -infinity.
    check(
        "print a = log(-1), b = sqrt(-1), c = log10(-5), d = isinf(log(0)), e = exp(real(null)), f = pow(-8, 0.5)",
        &["a,b,c,d,e,f", ",,,true,,"],
    )
    .await;
    check("print s1 = sign(-42), s2 = sign(0), s3 = sign(11.2)", &["s1,s2,s3", "-1,0,1"]).await;
    check_error("print log(1s)").await;
}

#[tokio::test]
async fn trigonometry() {
    check(
        "print atan2_0 = atan2(1,1) | extend atan2_1 = atan2(0,-1) | extend atan2_2 = atan2(-1,0)",
        &["atan2_0,atan2_1,atan2_2", "0.7853981633974483,3.141592653589793,-1.5707963267948966"],
    )
    .await;
    check(
        "print cos(1), cot(1), sin(0), tan(0)",
        &["print_0,print_1,print_2,print_3", "0.5403023058681398,0.6420926159343306,0,0"],
    )
    .await;
    check("print a = asin(1) * 2 == pi(), b = acos(1), c = atan(0), d = acos(2)", &["a,b,c,d", "true,0,0,"]).await;
    check(
        "print degrees0 = degrees(pi()/4), degrees1 = degrees(pi()*1.5), degrees2 = degrees(0)",
        &["degrees0,degrees1,degrees2", "45,270,0"],
    )
    .await;
    check(
        "print radians0 = radians(90), radians1 = radians(180), radians2 = radians(360)",
        &["radians0,radians1,radians2", "1.5707963267948966,3.141592653589793,6.283185307179586"],
    )
    .await;
}

#[tokio::test]
async fn nan_and_infinity() {
    check(
        "range x from -1 to 1 step 1 | extend y = 0.0 | extend div = 1.0*x/y | extend f = isfinite(div), n = isnan(div), i = isinf(div)",
        &["x,y,div,f,n,i", "-1,0,-∞,false,false,true", "0,0,NaN,false,true,false", "1,0,∞,false,false,true"],
    )
    .await;
    check("print isfinite(1), isnan(long(2)), isinf(2.5)", &["print_0,print_1,print_2", "true,false,false"]).await;
}

#[tokio::test]
async fn bitwise() {
    check(
        "print binary_and(6, 3), binary_or(6, 3), binary_xor(6, 3), binary_not(0), binary_shift_left(1, 2), binary_shift_right(16, 2)",
        &["print_0,print_1,print_2,print_3,print_4,print_5", "2,7,5,-1,4,4"],
    )
    .await;
    // The shift counts modulo 64; a negative shift is null.
    check(
        "print a = binary_shift_left(1, 65), b = binary_shift_left(1, -1), c = binary_and(int(12), long(10)), d = binary_or(long(null), 1)",
        &["a,b,c,d", "2,,8,"],
    )
    .await;
    check_error("print binary_and(1, 2.5)").await;
}

#[tokio::test]
async fn random_values() {
    check(
        "range x from 1 to 100 step 1 | extend r = rand(), n = rand(10) | summarize lo = min(r) >= 0.0, hi = max(r) < 1.0, whole = countif(n != floor(n, 1) or n < 0 or n >= 10) == 0, distinct_r = dcount(r) > 90",
        &["lo,hi,whole,distinct_r", "true,true,true,true"],
    )
    .await;
    check(
        "range x from 1 to 50 step 1 | extend g = new_guid() | summarize n = dcount(g), len = max(strlen(tostring(g)))",
        &["n,len", "50,36"],
    )
    .await;
    check_types("print new_guid(), rand(), rand(5)", &["guid", "real", "real"]).await;
}

#[tokio::test]
async fn hashes() {
    check(
        "print a = hash('World'), b = hash('World', 100), c = hash(datetime(2015-01-01)), d = hash_xxhash64('World')",
        &["a,b,c,d", "1846988464401551951,51,1380966698541616202,1846988464401551951"],
    )
    .await;
    check(
        "print h1 = hash_md5('World'), h2 = hash_md5(datetime(2020-01-01))",
        &["h1,h2", "f5a7924e621e84c9280a9a27e1bcb7f6,786c530672d1f8db31fee25ea8a9390b"],
    )
    .await;
    check(
        "print h1 = hash_sha1('World'), h2 = hash_sha1(datetime(2020-01-01))",
        &["h1,h2", "70c07ec18ef89c5309bbb0937f3a6342411e1fdd,e903e533f4d636b4fc0dcf3cf81e7b7f330de776"],
    )
    .await;
    check(
        "print h1 = hash_sha256('World'), h2 = hash_sha256(datetime(2020-01-01))",
        &[
            "h1,h2",
            "78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524,ba666752dc1a20eb750b0eb64e780cc4c968bc9fb8813461c1d7e750f302d71d",
        ],
    )
    .await;
    // Numbers hash their text; null hashes to "" (a string is never null).
    check(
        "print a = hash_md5(123) == hash_md5('123'), b = hash_sha256(long(null)), c = isnull(hash(long(null))), d = hash('x', 0)",
        &["a,b,c,d", "true,,true,"],
    )
    .await;
    check_error("print hash_md5(dynamic([1]))").await;
}

#[tokio::test]
async fn ipv4_predicates() {
    check(
        "datatable(ip_string:string)['10.1.2.3', '192.168.1.1/24', '127.0.0.1', '172.31.0.1', '172.32.0.1', 'not an ip'] | extend result = ipv4_is_private(ip_string)",
        &[
            "ip_string,result",
            "10.1.2.3,true",
            "192.168.1.1/24,true",
            "127.0.0.1,false",
            "172.31.0.1,true",
            "172.32.0.1,false",
            "not an ip,",
        ],
    )
    .await;
    check("print ipv4_is_match('192.168.1.1/24', '192.168.1.255')", &["print_0", "true"]).await;
    check(
        "datatable(ip1_string:string, ip2_string:string)['192.168.1.0', '192.168.1.0', '192.168.1.1/24', '192.168.1.255', '192.168.1.1', '192.168.1.255/24', '192.168.1.1/30', '192.168.1.255/24', '1.2.3.4', '1.2.3.5', '1.2.3.4', '1.2.3.256'] | extend m = ipv4_is_match(ip1_string, ip2_string), c = ipv4_compare(ip1_string, ip2_string)",
        &[
            "ip1_string,ip2_string,m,c",
            "192.168.1.0,192.168.1.0,true,0",
            "192.168.1.1/24,192.168.1.255,true,0",
            "192.168.1.1,192.168.1.255/24,true,0",
            "192.168.1.1/30,192.168.1.255/24,true,0",
            "1.2.3.4,1.2.3.5,false,-1",
            "1.2.3.4,1.2.3.256,,",
        ],
    )
    .await;
    check(
        "datatable(ip1_string:string, ip2_string:string, prefix:long)['192.168.1.1', '192.168.1.0', 31, '192.168.1.1/24', '192.168.1.255', 31, '192.168.1.1', '192.168.1.255', 24, '192.168.1.1', '192.168.1.255', 33] | extend result = ipv4_is_match(ip1_string, ip2_string, prefix), c = ipv4_compare(ip1_string, ip2_string, prefix)",
        &[
            "ip1_string,ip2_string,prefix,result,c",
            "192.168.1.1,192.168.1.0,31,true,0",
            "192.168.1.1/24,192.168.1.255,31,true,0",
            "192.168.1.1,192.168.1.255,24,true,0",
            "192.168.1.1,192.168.1.255,33,,",
        ],
    )
    .await;
    check(
        "print ipv4_compare('127.0.0.2', '127.0.0.1'), ipv4_compare('192.168.1.1', '192.168.1.255')",
        &["print_0,print_1", "1,-1"],
    )
    .await;
    check_error("print ipv4_is_private(1)").await;
}

#[tokio::test]
async fn ipv4_ranges() {
    check(
        "datatable(ip_address:string, ip_range:string)['192.168.1.1', '192.168.1.1', '192.168.1.1', '192.168.1.255/24', '192.168.2.1', '192.168.1.255/24', '192.168.1.1', 'bad'] | extend result = ipv4_is_in_range(ip_address, ip_range)",
        &[
            "ip_address,ip_range,result",
            "192.168.1.1,192.168.1.1,true",
            "192.168.1.1,192.168.1.255/24,true",
            "192.168.2.1,192.168.1.255/24,false",
            "192.168.1.1,bad,",
        ],
    )
    .await;
    check(
        "print Result=ipv4_is_in_any_range('192.168.1.6', '192.168.1.1/24', '10.0.0.1/8', '127.1.0.1/16')",
        &["Result", "true"],
    )
    .await;
    check("print Result=ipv4_is_in_any_range('127.0.0.1', dynamic(['127.0.0.1', '192.168.1.1']))", &["Result", "true"])
        .await;
    check(
        "let LocalNetworks=dynamic(['192.168.1.1/16', '127.0.0.1/8', '10.0.0.1/8']); let IPs=datatable(IP:string) ['10.1.2.3', '192.168.1.5', '123.1.11.21', '1.1.1.1', 'bad']; IPs | extend IsLocal=ipv4_is_in_any_range(IP, LocalNetworks)",
        &["IP,IsLocal", "10.1.2.3,true", "192.168.1.5,true", "123.1.11.21,false", "1.1.1.1,false", "bad,"],
    )
    .await;
    // Ranges from a column, as a dynamic array per row; bad ranges are skipped.
    check(
        "datatable(ip:string, ranges:dynamic)['10.0.0.1', dynamic(['x', '10.0.0.0/8']), '11.0.0.1', dynamic(['10.0.0.0/8'])] | extend r = ipv4_is_in_any_range(ip, ranges)",
        &["ip,ranges,r", "10.0.0.1,\"[\"\"x\"\",\"\"10.0.0.0/8\"\"]\",true", "11.0.0.1,\"[\"\"10.0.0.0/8\"\"]\",false"],
    )
    .await;
}

#[tokio::test]
async fn ipv4_parse_and_format() {
    check(
        "datatable(ip_string: string)['192.168.1.1', '192.168.1.1/24', '255.255.255.255/31', '1.2.3', ''] | extend ip_long = parse_ipv4(ip_string), suffix = ipv4_netmask_suffix(ip_string)",
        &[
            "ip_string,ip_long,suffix",
            "192.168.1.1,3232235777,32",
            "192.168.1.1/24,3232235776,24",
            "255.255.255.255/31,4294967294,31",
            "1.2.3,,",
            ",,",
        ],
    )
    .await;
    check(
        "datatable(ip_string:string)['10.1.2.3', '192.168.1.1/24', '127.0.0.1/16'] | extend cidr_suffix = ipv4_netmask_suffix(ip_string)",
        &["ip_string,cidr_suffix", "10.1.2.3,32", "192.168.1.1/24,24", "127.0.0.1/16,16"],
    )
    .await;
    check(
        "print a = parse_ipv4_mask('127.0.0.1', 24), b = parse_ipv4_mask('192.168.1.1/16', 24), c = parse_ipv4_mask('1.2.3.4', 40)",
        &["a,b,c", "2130706432,3232235520,"],
    )
    .await;
    check(
        "datatable(address:string, mask:long)['192.168.1.1', 24, '192.168.1.1', 32, '192.168.1.1/24', 32, '192.168.1.1/24', long(-1)] | extend result = format_ipv4(address, mask), result_mask = format_ipv4_mask(address, mask)",
        &[
            "address,mask,result,result_mask",
            "192.168.1.1,24,192.168.1.0,192.168.1.0/24",
            "192.168.1.1,32,192.168.1.1,192.168.1.1/32",
            "192.168.1.1/24,32,192.168.1.0,192.168.1.0/24",
            "192.168.1.1/24,-1,,",
        ],
    )
    .await;
    // Numbers in big-endian order; out of range or bad text gives "".
    check(
        "print a = format_ipv4(3232235777), b = format_ipv4_mask(3232235777, 24), c = format_ipv4(-1), d = format_ipv4('x'), e = format_ipv4_mask('10.1.2.3')",
        &["a,b,c,d,e", "192.168.1.1,192.168.1.0/24,,,10.1.2.3/32"],
    )
    .await;
}

#[tokio::test]
async fn ipv4_text_search() {
    let log = "05:04:54 127.0.0.1 GET /favicon.ico 404";
    let bad = "05:04:54 127.0.0.256 GET /favicon.ico 404";
    let glued = "05:04:54127.0.0.1 GET /favicon.ico 404";
    check(
        &format!("print a = has_ipv4('{log}', '127.0.0.1'), b = has_ipv4('{bad}', '127.0.0.256'), c = has_ipv4('{glued}', '127.0.0.1')"),
        &["a,b,c", "true,false,false"],
    )
    .await;
    check(
        &format!(
            "print a = has_ipv4_prefix('{log}', '127.0.'), b = has_ipv4_prefix('{log}', '127.0'), c = has_ipv4_prefix('{bad}', '127.0.'), d = has_ipv4_prefix('{glued}', '127.0.')"
        ),
        &["a,b,c,d", "true,false,false,false"],
    )
    .await;
    check(
        &format!(
            "print a = has_any_ipv4('{log}', '127.0.0.1', '127.0.0.2'), b = has_any_ipv4('{log}', dynamic(['127.0.0.1', '127.0.0.2'])), c = has_any_ipv4('{bad}', dynamic(['127.0.0.256', '192.168.1.1'])), d = has_any_ipv4('{glued}', '127.0.0.1', '192.168.1.1')"
        ),
        &["a,b,c,d", "true,true,false,false"],
    )
    .await;
    check(
        &format!(
            "print a = has_any_ipv4_prefix('{log}', '127.0.', '192.168.'), b = has_any_ipv4_prefix('{log}', dynamic(['127.0.', '192.168.'])), c = has_any_ipv4_prefix('{log}', '127.0'), d = has_any_ipv4_prefix('{glued}', '127.0.', '192.')"
        ),
        &["a,b,c,d", "true,true,false,false"],
    )
    .await;
    // Delimiters: punctuation and sentence-ending dots delimit, letters do not.
    check(
        "datatable(t:string)['These requests came from: 192.168.1.1, 10.1.1.115 and 10.1.1.201', 'ip=10.1.1.201.', 'x10.1.1.201', '10.1.1.201.5', ''] | extend a = has_ipv4(t, '10.1.1.201'), b = has_any_ipv4_prefix(t, '10.1.')",
        &[
            "t,a,b",
            "\"These requests came from: 192.168.1.1, 10.1.1.115 and 10.1.1.201\",true,true",
            "ip=10.1.1.201.,true,true",
            "x10.1.1.201,false,false",
            "10.1.1.201.5,false,false",
            ",false,false",
        ],
    )
    .await;
}

#[tokio::test]
async fn ipv6() {
    check(
        "datatable(ip1_string:string, ip2_string:string)['192.168.1.1', '192.168.1.1', '192.168.1.1/24', '192.168.1.255', '192.168.1.1', '192.168.1.255/24', '192.168.1.1/30', '192.168.1.255/24', 'fe80::85d:e82c:9446:7994', 'fe80::85d:e82c:9446:7994', 'fe80::85d:e82c:9446:7994/120', 'fe80::85d:e82c:9446:7998', 'fe80::85d:e82c:9446:7994', 'fe80::85d:e82c:9446:7998/120', 'fe80::85d:e82c:9446:7994/120', 'fe80::85d:e82c:9446:7998/120', '192.168.1.1', '::ffff:c0a8:0101', '192.168.1.1/24', '::ffff:c0a8:01ff', '::ffff:c0a8:0101', '192.168.1.255/24', '::192.168.1.1/30', '192.168.1.255/24', 'fe80::1', 'fe80::2', 'fe80::x', '::1'] | extend c = ipv6_compare(ip1_string, ip2_string), m = ipv6_is_match(ip1_string, ip2_string) | project c, m",
        &[
            "c,m",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "0,true",
            "-1,false",
            ",",
        ],
    )
    .await;
    check(
        "datatable(ip1_string:string, ip2_string:string, prefix:long)['192.168.1.1', '192.168.1.0', 31, '192.168.1.1/24', '192.168.1.255', 31, '192.168.1.1', '192.168.1.255', 24, 'fe80::85d:e82c:9446:7994', 'fe80::85d:e82c:9446:7995', 127, 'fe80::85d:e82c:9446:7994/127', 'fe80::85d:e82c:9446:7998', 120, 'fe80::85d:e82c:9446:7994/120', 'fe80::85d:e82c:9446:7998', 127, '192.168.1.1/24', '::ffff:c0a8:01ff', 127, '::ffff:c0a8:0101', '192.168.1.255', 120, '::192.168.1.1/30', '192.168.1.255/24', 127] | extend c = ipv6_compare(ip1_string, ip2_string, prefix), m = ipv6_is_match(ip1_string, ip2_string, prefix) | project c, m",
        &["c,m", "0,true", "0,true", "0,true", "0,true", "0,true", "0,true", "0,true", "0,true", "0,true"],
    )
    .await;
    check(
        "datatable(ipv4: string)['192.168.255.255', '192.168.255.255/24', '255.255.255.255', 'bad'] | extend ipv6 = parse_ipv6(ipv4)",
        &[
            "ipv4,ipv6",
            "192.168.255.255,0000:0000:0000:0000:0000:ffff:c0a8:ffff",
            "192.168.255.255/24,0000:0000:0000:0000:0000:ffff:c0a8:ff00",
            "255.255.255.255,0000:0000:0000:0000:0000:ffff:ffff:ffff",
            "bad,",
        ],
    )
    .await;
    check(
        "datatable(ip_string: string, netmask: long)['192.168.255.255', 120, '192.168.255.255/24', 124, '255.255.255.255', 128, 'fe80::85d:e82c:9446:7994', 128, 'fe80::85d:e82c:9446:7994/120', 124, '::192.168.255.255', 128, '::192.168.255.255/24', 128, '::1', 129] | extend ip6_canonical = parse_ipv6_mask(ip_string, netmask) | project ip6_canonical",
        &[
            "ip6_canonical",
            "0000:0000:0000:0000:0000:ffff:c0a8:ff00",
            "0000:0000:0000:0000:0000:ffff:c0a8:ff00",
            "0000:0000:0000:0000:0000:ffff:ffff:ffff",
            "fe80:0000:0000:0000:085d:e82c:9446:7994",
            "fe80:0000:0000:0000:085d:e82c:9446:7900",
            "0000:0000:0000:0000:0000:ffff:c0a8:ffff",
            "0000:0000:0000:0000:0000:ffff:c0a8:ff00",
            "",
        ],
    )
    .await;
    check(
        "let LocalNetworks=dynamic(['a5e:f127:8a9d:146d:e102:b5d3:c755:f6cd/112', '0:0:0:0:0:ffff:c0a8:ac/60']); datatable(IP:string) ['a5e:f127:8a9d:146d:e102:b5d3:c755:abcd', 'a5e:f127:8a9d:146d:e102:b5d3:c755:abce', 'a5e:f127:8a9d:146d:e102:b5d3:c755:abcf', 'a5e:f127:8a9d:146d:e102:b5d3:c756:abd1'] | extend IsLocal=ipv6_is_in_any_range(IP, LocalNetworks) | project IsLocal",
        &["IsLocal", "true", "true", "true", "false"],
    )
    .await;
    check(
        "print a = ipv6_is_in_range('fe80::85d:e82c:9446:7994', 'fe80::85d:e82c:9446:7900/120'), b = ipv6_is_in_range('fe80::1', 'fe81::/16'), c = ipv6_is_in_range('x', '::/0')",
        &["a,b,c", "true,false,"],
    )
    .await;
}

/// Kusto computes arithmetic on two ints in long: Microsoft's binder
/// (Kusto.Language) types `toint(2) * toint(3)`, `/`, `+`, `-` and `%` of
/// ints as `long`, so the sum of two large ints does not wrap. Unary minus
/// keeps int.
#[tokio::test]
async fn int_arithmetic_is_long() {
    check_types(
        "print a = toint(2) * toint(3), b = toint(7) / toint(2), c = toint(2) + toint(3), d = toint(2) - toint(3), e = toint(7) % toint(4), f = toint(2) * 3, g = -toint(2), h = toint(2) * 2.0",
        &["long", "long", "long", "long", "long", "long", "int", "real"],
    )
    .await;
    check(
        "print a = toint(2147483647) + toint(1), b = toint(7) / toint(2), c = toint(1) / toint(0)",
        &["a,b,c", "2147483648,3,"],
    )
    .await;
}

/// coalesce() "evaluates a list of expressions and returns the first non-null
/// (or non-empty for string) expression" (KQL reference, coalesce-function):
/// `coalesce(tolong("not a number"), tolong("42"), 33)` is 42 and empty
/// strings are skipped.
#[tokio::test]
async fn coalesce_skips_empty_strings() {
    check(r#"print a = coalesce("", "", "found"), b = coalesce("x", "y")"#, &["a,b", "found,x"]).await;
    check(
        r#"datatable (A: string, B: string)["", "b", "a", "c", "", ""] | project r = strcat("[", coalesce(A, B), "]")"#,
        &["r", "[b]", "[a]", "[]"],
    )
    .await;
    check(r#"print a = coalesce(tolong("not a number"), tolong("42"), 33)"#, &["a", "42"]).await;
}
