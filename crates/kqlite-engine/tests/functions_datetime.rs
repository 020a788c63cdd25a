//! Datetime and timespan functions, end to end. Expected values come from
//! the KQL reference examples where one exists.

mod common;

use common::{check_fails as assert_error, run};

/// Runs `print` over the expressions and returns the data row (CSV).
async fn row(exprs: &str) -> String {
    let out = run(&format!("print {exprs}")).await;
    assert!(!out.starts_with("ERROR"), "{out}");
    out.lines().nth(1).unwrap_or_else(|| panic!("no row for {exprs}: {out}")).to_string()
}

async fn column(q: &str) -> Vec<String> {
    run(q).await.lines().skip(1).map(str::to_string).collect()
}

#[tokio::test]
async fn datetime_diff() {
    let q = "year = datetime_diff('year',datetime(2017-01-01),datetime(2000-12-31)),
        quarter = datetime_diff('quarter',datetime(2017-07-01),datetime(2017-03-30)),
        month = datetime_diff('month',datetime(2017-01-01),datetime(2015-12-30)),
        week = datetime_diff('week',datetime(2017-10-29 00:00),datetime(2017-09-30 23:59)),
        day = datetime_diff('day',datetime(2017-10-29 00:00),datetime(2017-09-30 23:59)),
        hour = datetime_diff('hour',datetime(2017-10-31 01:00),datetime(2017-10-30 23:59)),
        minute = datetime_diff('minute',datetime(2017-10-30 23:05:01),datetime(2017-10-30 23:00:59)),
        second = datetime_diff('second',datetime(2017-10-30 23:00:10.100),datetime(2017-10-30 23:00:00.900)),
        millisecond = datetime_diff('millisecond',datetime(2017-10-30 23:00:00.200100),datetime(2017-10-30 23:00:00.100900)),
        microsecond = datetime_diff('microsecond',datetime(2017-10-30 23:00:00.1009001),datetime(2017-10-30 23:00:00.1008009)),
        nanosecond = datetime_diff('nanosecond',datetime(2017-10-30 23:00:00.0000000),datetime(2017-10-30 23:00:00.0000007))";
    assert_eq!(row(q).await, "17,2,13,5,29,2,5,10,100,100,-700");
    // Case-insensitive period; before 1970; negative results; null.
    assert_eq!(
        row("datetime_diff('Day', datetime(1969-12-31 23:00), datetime(1970-01-01 01:00)), \
             datetime_diff('week', datetime(1960-01-03), datetime(1960-01-02)), \
             datetime_diff('year', datetime(1960-01-01), datetime(2000-12-31)), \
             datetime_diff('day', datetime(null), now())")
        .await,
        "-1,1,-40,"
    );
    assert_error("print datetime_diff('fortnight', now(), now())").await;
    assert_error("print datetime_diff('day', now(), 'x')").await;
    assert_error("datatable(p:string)['day'] | extend d = datetime_diff(p, now(), now())").await;
}

#[tokio::test]
async fn datetime_add() {
    let q = "year = datetime_add('year',1,make_datetime(2017,1,1)),
        quarter = datetime_add('quarter',1,make_datetime(2017,1,1)),
        month = datetime_add('month',1,make_datetime(2017,1,1)),
        week = datetime_add('week',1,make_datetime(2017,1,1)),
        day = datetime_add('day',1,make_datetime(2017,1,1)),
        hour = datetime_add('hour',1,make_datetime(2017,1,1)),
        minute = datetime_add('minute',1,make_datetime(2017,1,1)),
        second = datetime_add('second',1,make_datetime(2017,1,1))";
    assert_eq!(
        row(q).await,
        "2018-01-01T00:00:00Z,2017-04-01T00:00:00Z,2017-02-01T00:00:00Z,2017-01-08T00:00:00Z,\
         2017-01-02T00:00:00Z,2017-01-01T01:00:00Z,2017-01-01T00:01:00Z,2017-01-01T00:00:01Z"
    );
    let q = "year = datetime_add('year',-5,make_datetime(2017,1,1)),
        quarter = datetime_add('quarter',12,make_datetime(2017,1,1)),
        month = datetime_add('month',-15,make_datetime(2017,1,1)),
        week = datetime_add('week',100,make_datetime(2017,1,1))";
    assert_eq!(row(q).await, "2012-01-01T00:00:00Z,2020-01-01T00:00:00Z,2015-10-01T00:00:00Z,2018-12-02T00:00:00Z");
    // Month ends clamp; sub-second parts; null amount.
    assert_eq!(
        row("datetime_add('month', 1, datetime(2017-01-31 10:00)), datetime_add('year', 1, datetime(2016-02-29)), \
             datetime_add('millisecond', 5, datetime(2017-01-01)), datetime_add('Nanosecond', -100, datetime(1970-01-01)), \
             datetime_add('day', long(null), datetime(2017-01-01))")
        .await,
        "2017-02-28T10:00:00Z,2017-02-28T00:00:00Z,2017-01-01T00:00:00.005Z,1969-12-31T23:59:59.9999999Z,"
    );
    assert_error("print datetime_add('day', 1.5, now())").await;
    assert_error("print datetime_add('days', 1, now())").await;
}

#[tokio::test]
async fn datetime_part() {
    let q = "let dt = datetime(2017-10-30 01:02:03.7654321);
        print year = datetime_part('year', dt), quarter = datetime_part('quarter', dt),
        month = datetime_part('month', dt), weekOfYear = datetime_part('week_of_year', dt),
        day = datetime_part('day', dt), dayOfYear = datetime_part('dayOfYear', dt),
        hour = datetime_part('hour', dt), minute = datetime_part('minute', dt),
        second = datetime_part('second', dt), millisecond = datetime_part('millisecond', dt),
        microsecond = datetime_part('microsecond', dt), nanosecond = datetime_part('nanosecond', dt)";
    assert_eq!(column(q).await, ["2017,4,10,44,30,303,1,2,3,765,765432,765432100"]);
    assert_eq!(row("datepart('Year', datetime(1969-12-31 23:59:59)), datepart('hour', datetime(null))").await, "1969,");
    assert_eq!(
        run("print y = datetime_part('year', now()) | getschema | project ColumnType").await,
        "ColumnType\nint\n"
    );
    assert_error("print datetime_part('week', now())").await;
}

#[tokio::test]
async fn calendar_parts() {
    assert_eq!(row("monthofyear(datetime('2015-12-14'))").await, "12");
    assert_eq!(
        row("getyear(datetime(1969-03-02)), getmonth(datetime(1969-03-02)), dayofmonth(datetime(1969-03-02)), \
             dayofyear(datetime(2016-12-31)), dayofyear(datetime(1969-03-02)), getmonth(datetime(null))")
        .await,
        "1969,3,2,366,61,"
    );
    assert_eq!(
        row("week_of_year(datetime(2020-12-31)), week_of_year(datetime(2020-06-15)), \
             week_of_year(datetime(1970-01-01)), week_of_year(datetime(2000-01-01)), weekofyear(datetime(2015-12-14))")
        .await,
        "53,25,1,52,51"
    );
    let schema = run("print a = getmonth(now()), b = getyear(now()), c = dayofyear(now()), d = weekofyear(now()) \
                      | getschema | project ColumnType")
    .await;
    assert_eq!(schema, "ColumnType\nint\nint\nint\nint\n");
    assert_error("print getyear(1)").await;
}

#[tokio::test]
async fn day_of_week_and_hour() {
    assert_eq!(row("dayofweek(datetime(1947-11-30 10:00:05))").await, "00:00:00");
    assert_eq!(row("dayofweek(datetime(1970-05-11))").await, "1.00:00:00");
    assert_eq!(
        column("let dow=dayofweek(datetime(1970-5-12)); print Timespan = dow, Integer = toint(dow/1d)").await,
        ["2.00:00:00,2"]
    );
    assert_eq!(row("hourofday(datetime(1969-12-31 22:10))").await, "22");
}

#[tokio::test]
async fn start_and_end_of() {
    let q =
        "range offset from -1 to 1 step 1 | project monthStart = startofmonth(datetime(2017-01-01 10:10:17), offset)";
    assert_eq!(column(q).await, ["2016-12-01T00:00:00Z", "2017-01-01T00:00:00Z", "2017-02-01T00:00:00Z"]);
    let q = "range offset from -1 to 1 step 1 | project weekStart = startofweek(datetime(2017-01-01 10:10:17), offset)";
    assert_eq!(column(q).await, ["2016-12-25T00:00:00Z", "2017-01-01T00:00:00Z", "2017-01-08T00:00:00Z"]);
    let q = "range offset from -1 to 1 step 1 | project monthEnd = endofmonth(datetime(2017-01-01 10:10:17), offset)";
    assert_eq!(
        column(q).await,
        ["2016-12-31T23:59:59.9999999Z", "2017-01-31T23:59:59.9999999Z", "2017-02-28T23:59:59.9999999Z"]
    );
    let q = "range offset from -1 to 1 step 1 | project weekEnd = endofweek(datetime(2017-01-01 10:10:17), offset)";
    assert_eq!(
        column(q).await,
        ["2016-12-31T23:59:59.9999999Z", "2017-01-07T23:59:59.9999999Z", "2017-01-14T23:59:59.9999999Z"]
    );
    assert_eq!(
        row("startofday(datetime(2017-01-01 10:10:17)), startofday(datetime(2017-01-01 10:10:17), -1), \
             startofyear(datetime(2017-05-04 10:10:17)), startofyear(datetime(2017-05-04), 2), \
             endofday(datetime(2017-01-01 10:10:17)), endofday(datetime(2017-01-01), 1), \
             endofyear(datetime(2017-05-04)), endofyear(datetime(2017-05-04), -1)")
        .await,
        "2017-01-01T00:00:00Z,2016-12-31T00:00:00Z,2017-01-01T00:00:00Z,2019-01-01T00:00:00Z,\
         2017-01-01T23:59:59.9999999Z,2017-01-02T23:59:59.9999999Z,2017-12-31T23:59:59.9999999Z,\
         2016-12-31T23:59:59.9999999Z"
    );
    // Before 1970 (1969-12-31 was a Wednesday); null date and null offset.
    assert_eq!(
        row("startofweek(datetime(1969-12-31 05:00)), startofmonth(datetime(1969-12-31 05:00)), \
             startofday(datetime(1969-12-31 05:00)), startofmonth(datetime(null)), startofweek(now(), long(null))")
        .await,
        "1969-12-28T00:00:00Z,1969-12-01T00:00:00Z,1969-12-31T00:00:00Z,,"
    );
    assert_error("print startofmonth(now(), 1.5)").await;
}

#[tokio::test]
async fn startofweek_from_monday() {
    let q = r#"let startofweekFromMonday = (dateArg: datetime) {
            datetime_add('day', 1, startofweek(datetime_add('day', -1, dateArg)))
        };
        datatable(Date: datetime, day: string)
        [datetime(2025-06-14), "Saturday", datetime(2025-06-15), "Sunday",
         datetime(2025-06-16), "Monday", datetime(2025-06-17), "Tuesday"]
        | extend MondayWeek=startofweekFromMonday(Date)"#;
    assert_eq!(
        column(q).await,
        [
            "2025-06-14T00:00:00Z,Saturday,2025-06-09T00:00:00Z",
            "2025-06-15T00:00:00Z,Sunday,2025-06-09T00:00:00Z",
            "2025-06-16T00:00:00Z,Monday,2025-06-16T00:00:00Z",
            "2025-06-17T00:00:00Z,Tuesday,2025-06-16T00:00:00Z"
        ]
    );
}

#[tokio::test]
async fn format_datetime() {
    let dt = "let dt = datetime(2017-01-29 09:00:05);";
    assert_eq!(
        column(&format!("{dt} print v1=format_datetime(dt,'yy-MM-dd [HH:mm:ss]')")).await,
        ["17-01-29 [09:00:05]"]
    );
    assert_eq!(
        column(&format!("{dt} print v2=format_datetime(dt, 'yyyy-M-dd [H:mm:ss]')")).await,
        ["2017-1-29 [9:00:05]"]
    );
    assert_eq!(
        column(&format!("{dt} print v3=format_datetime(dt, 'yy-MM-dd [hh:mm:ss tt]')")).await,
        ["17-01-29 [09:00:05 AM]"]
    );
    let t = "datetime(2009-06-15 13:45:30.6175425)";
    assert_eq!(
        row(&format!(
            "format_datetime({t}, 'f|ff|fff|ffff|fffff|ffffff|fffffff'), format_datetime({t}, 'h h tt d/M/y'), \
             format_datetime(datetime(2009-06-15 13:45:30.0001150), 'FFFFFFF FF fffffff'), \
             format_datetime(datetime(2009-06-15 13:45:30), 'HH:mm:ss.FFF'), \
             format_datetime(datetime(1905-01-01), 'y yy yyyy'), format_datetime(datetime(null), 'yyyy')"
        ))
        .await,
        "6|61|617|6175|61754|617542|6175425,1 1 PM 15/6/9,000115  0001150,13:45:30,5 05 1905,"
    );
    assert_eq!(
        row("format_datetime(datetime(1969-07-20 20:17:40), 'yyyy-MM-ddTHH:mm:ss')").await,
        "1969-07-20T20:17:40"
    );
    assert_error("print format_datetime(now())").await;
    assert_error("print format_datetime('2017-01-01', 'yyyy')").await;
}

#[tokio::test]
async fn format_timespan() {
    let q = "let t = time(29.09:00:05.12345);
        print v1=format_timespan(t, 'dd.hh:mm:ss:FF'), v2=format_timespan(t, 'ddd.h:mm:ss [fffffff]')";
    assert_eq!(column(q).await, ["29.09:00:05:12,029.9:00:05 [1234500]"]);
    assert_eq!(
        row("format_timespan(time(15.13:45:30.0001150), 'FFFFFFF|F|HH|d'), format_timespan(-90m, 'hh:mm'), \
             format_timespan(timespan(null), 'hh')")
        .await,
        "000115||13|15,01:30,"
    );
}

#[tokio::test]
async fn make_datetime() {
    assert_eq!(row("make_datetime(2017,10,01)").await, "2017-10-01T00:00:00Z");
    assert_eq!(row("make_datetime(2017,10,01,12,10)").await, "2017-10-01T12:10:00Z");
    assert_eq!(row("make_datetime(2017,10,01,12,11,0.1234567)").await, "2017-10-01T12:11:00.1234567Z");
    assert_eq!(
        row("make_datetime(1969,7,20,20,17,40), make_datetime(2017,2,29), make_datetime(2017,13,1), \
             make_datetime(2017,1,1,24,0), make_datetime(2017,1,1,0,0,60), make_datetime(int(null),1,1)")
        .await,
        "1969-07-20T20:17:40Z,,,,,"
    );
    assert_error("print make_datetime(2017,1)").await;
    assert_error("print make_datetime(2017,1,1,1,1,1,1)").await;
}

#[tokio::test]
async fn make_timespan() {
    assert_eq!(row("make_timespan(1,12,30,55.123)").await, "1.12:30:55.1230000");
    assert_eq!(
        row("make_timespan(1,2), make_timespan(1,2,3), make_timespan(24,0), make_timespan(1,60), make_timespan(1,int(null))")
            .await,
        "01:02:00,01:02:03,,,"
    );
    assert_error("print make_timespan(1,2,3,4,5)").await;
}

#[tokio::test]
async fn unixtime() {
    assert_eq!(row("unixtime_microseconds_todatetime(1546300800000000)").await, "2019-01-01T00:00:00Z");
    assert_eq!(row("unixtime_milliseconds_todatetime(1546300800000)").await, "2019-01-01T00:00:00Z");
    assert_eq!(row("unixtime_nanoseconds_todatetime(1546300800000000000)").await, "2019-01-01T00:00:00Z");
    assert_eq!(
        row("unixtime_seconds_todatetime(1546300800), unixtime_seconds_todatetime(1.5), \
             unixtime_seconds_todatetime(-1), unixtime_milliseconds_todatetime(int(5)), \
             unixtime_nanoseconds_todatetime(150), unixtime_seconds_todatetime(long(null)), \
             unixtime_seconds_todatetime(1e300)")
        .await,
        "2019-01-01T00:00:00Z,1970-01-01T00:00:01.5Z,1969-12-31T23:59:59Z,1970-01-01T00:00:00.005Z,\
         1970-01-01T00:00:00.0000001Z,,"
    );
    assert_error("print unixtime_seconds_todatetime('1')").await;
}

#[tokio::test]
async fn time_zones() {
    let q = "datatable(local_dt: datetime, tz: string)
        [ datetime(2020-02-02 20:02:20), 'US/Pacific',
          datetime(2020-02-02 20:02:20), 'America/Chicago',
          datetime(2020-02-02 20:02:20), 'Europe/Paris']
        | extend utc_dt = datetime_local_to_utc(local_dt, tz)";
    assert_eq!(
        column(q).await,
        [
            "2020-02-02T20:02:20Z,US/Pacific,2020-02-03T04:02:20Z",
            "2020-02-02T20:02:20Z,America/Chicago,2020-02-03T02:02:20Z",
            "2020-02-02T20:02:20Z,Europe/Paris,2020-02-02T19:02:20Z"
        ]
    );
    let q = "range Local from datetime(2022-03-27 01:00:00) to datetime(2022-03-27 04:00:00) step 1h
        | extend UTC=datetime_local_to_utc(Local, 'Europe/Brussels')
        | extend BackToLocal=datetime_utc_to_local(UTC, 'Europe/Brussels')
        | extend diff=Local-BackToLocal";
    assert_eq!(
        column(q).await,
        [
            "2022-03-27T01:00:00Z,2022-03-27T00:00:00Z,2022-03-27T01:00:00Z,00:00:00",
            "2022-03-27T02:00:00Z,2022-03-27T00:00:00Z,2022-03-27T01:00:00Z,01:00:00",
            "2022-03-27T03:00:00Z,2022-03-27T01:00:00Z,2022-03-27T03:00:00Z,00:00:00",
            "2022-03-27T04:00:00Z,2022-03-27T02:00:00Z,2022-03-27T04:00:00Z,00:00:00"
        ]
    );
    assert_eq!(
        row("datetime_utc_to_local(datetime(2022-07-11 22:18:48), 'US/Pacific'), \
             datetime_utc_to_local(datetime(2022-07-11 22:18:48), 'Australia/Canberra'), \
             datetime_utc_to_local(datetime(2022-07-11 22:18:48), 'Not/AZone'), \
             datetime_utc_to_local(datetime(null), 'UTC'), datetime_local_to_utc(datetime(1960-01-01), 'Asia/Tokyo')")
        .await,
        "2022-07-11T15:18:48Z,2022-07-12T08:18:48Z,,,1959-12-31T15:00:00Z"
    );
}

#[tokio::test]
async fn bin_at() {
    assert_eq!(row("bin_at(6.5, 2.5, 7)").await, "4.5");
    assert_eq!(row("bin_at(time(1h), 1d, 12h)").await, "-12:00:00");
    assert_eq!(
        row("bin_at(datetime(2017-05-15 10:20:00.0), 1d, datetime(1970-01-01 12:00:00.0))").await,
        "2017-05-14T12:00:00Z"
    );
    assert_eq!(
        row("bin_at(datetime(2017-05-17 10:20:00.0), 7d, datetime(2017-06-04 00:00:00.0))").await,
        "2017-05-14T00:00:00Z"
    );
    let q = "datatable(Date:datetime, NumOfEvents:int)[
        datetime(2018-02-24T15:14),3, datetime(2018-02-24T15:24),4, datetime(2018-02-23T16:14),4,
        datetime(2018-02-23T17:29),4, datetime(2018-02-26T15:14),5]
        | summarize TotalEvents=sum(NumOfEvents) by bin_at(Date, 1d, datetime(2018-02-24 15:14:00.0000000))
        | order by Date asc";
    assert_eq!(
        run(q).await,
        "Date,TotalEvents\n2018-02-23T15:14:00Z,8\n2018-02-24T15:14:00Z,7\n2018-02-26T15:14:00Z,5\n"
    );
    assert_eq!(
        row("bin_at(7, 5, 3), bin_at(-1, 5, 3), bin_at(int(7), 5, 0), bin_at(7, 0, 3), bin_at(long(null), 5, 3)").await,
        "3,-2,5,,"
    );
    let schema = run(
        "print a = bin_at(1, 2, 3), b = bin_at(1, 2, 3.0), c = bin_at(1h, 1h, 30m) | getschema | project ColumnType",
    )
    .await;
    assert_eq!(schema, "ColumnType\nlong\nreal\ntimespan\n");
    assert_error("print bin_at(now(), 1h, 1h)").await;
    assert_error("print bin_at(now(), 1d)").await;
}

/// Kusto converts a datetime to text with seven fraction digits (100 ns
/// ticks), always: `tostring(datetime(2024-01-01))` is
/// `2024-01-01T00:00:00.0000000Z`, and so are datetimes inside dynamic
/// values (the KQL reference's range-function example prints
/// `range(datetime(2007-01-01), …)` as `["2007-01-01T00:00:00.0000000Z", …]`).
/// Result columns of type datetime print as the reference's result tables
/// show them (`2017-05-14T12:00:00Z`).
#[tokio::test]
async fn datetime_to_text_has_seven_fraction_digits() {
    assert_eq!(
        row("a = tostring(datetime(2024-01-01)), b = strcat('at ', datetime(2009-06-15 13:45:30.0001150)), c = tostring(datetime(2024-01-01 00:00:00.123456789))").await,
        "2024-01-01T00:00:00.0000000Z,at 2009-06-15T13:45:30.0001150Z,2024-01-01T00:00:00.1234567Z"
    );
    assert_eq!(
        row("r = range(datetime(2007-01-01), datetime(2007-01-02), 1d), d = datetime(2024-01-01)").await,
        r#""[""2007-01-01T00:00:00.0000000Z"",""2007-01-02T00:00:00.0000000Z""]",2024-01-01T00:00:00Z"#
    );
    assert_eq!(
        row("t = todatetime(tostring(datetime(2024-01-01 10:20:30.5))) == datetime(2024-01-01 10:20:30.5)").await,
        "true"
    );
}
