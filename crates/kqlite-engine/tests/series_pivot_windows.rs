//! End-to-end tests of the series functions (`series_stats`,
//! `series_fit_line`, `series_outliers`, `series_decompose_anomalies`), the
//! `pivot`, `ipv4_lookup` and `basket` plugins and the serialized-row window functions
//! (`row_window_session`, `row_rank_dense`, `row_rank_min`), mostly the
//! examples of their documentation pages.

mod common;

use common::{check, check_error};

#[tokio::test]
async fn series_stats_adds_one_column_per_statistic() {
    check(
        "print a = dynamic([3, 1, 4, 1, 5]) | extend series_stats(a) | project-away a \
         | extend series_stats_a_variance = round(series_stats_a_variance, 6)",
        "series_stats_a_min,series_stats_a_min_idx,series_stats_a_max,series_stats_a_max_idx,series_stats_a_avg,series_stats_a_stdev,series_stats_a_variance\n\
         1,1,5,4,2.8,1.7888543819998317,3.2\n",
    )
    .await;
    // series_stats_dynamic returns the same statistics as one bag.
    check(
        "print s = series_stats_dynamic(dynamic([2, 4])) | project s.min, s.max_idx, s.avg",
        "s_min,s_max_idx,s_avg\n2,1,3\n",
    )
    .await;
}

#[tokio::test]
async fn series_fit_line_matches_the_documented_example() {
    check(
        "print y = dynamic([2, 5, 6, 8, 11, 15, 17, 18, 25, 26, 30, 30]) \
         | extend (RSquare, Slope, Variance, RVariance, Interception, LineFit) = series_fit_line(y) \
         | project RSquare = round(RSquare, 3), Slope = round(Slope, 3), Variance = round(Variance, 3), \
           RVariance = round(RVariance, 3), Interception = round(Interception, 3), First = round(todouble(LineFit[0]), 3)",
        "RSquare,Slope,Variance,RVariance,Interception,First\n0.983,2.731,98.629,1.686,-1.667,1.064\n",
    )
    .await;
}

#[tokio::test]
async fn series_outliers_scores_by_tukey_fences() {
    // ctukey: 10th/90th percentiles 2 and 10, so 50 scores (50 - 10) / 8 = 5
    // and 1 scores (1 - 2) / 8.
    check(
        "print s = dynamic([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50]) | project o = series_outliers(s)",
        "o\n\"[-0.125,0,0,0,0,0,0,0,0,0,5]\"\n",
    )
    .await;
    // Classic Tukey uses the quartiles 3.5 and 8.5.
    check(
        "print s = dynamic([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50]) | project o = series_outliers(s, 'tukey')[10]",
        "o\n8.3\n",
    )
    .await;
}

#[tokio::test]
async fn series_decompose_anomalies_flags_a_spike() {
    let series = "print s = dynamic([10, 11, 10, 12, 10, 11, 10, 12, 10, 11, 60, 12, 10, 11, 10, 12])";
    check(
        &format!(
            "{series} | extend (anomalies, score, baseline) = series_decompose_anomalies(s, 1.5, 0) \
             | project anomalies, spike_scored = todouble(score[10]) > 1.5, baseline0 = round(todouble(baseline[0]), 3)"
        ),
        "anomalies,spike_scored,baseline0\n\"[0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0]\",true,13.875\n",
    )
    .await;
    // Unnamed, the columns are series_decompose_anomalies_<arg>_ad_flag, …
    check(
        &format!(
            "{series} | extend series_decompose_anomalies(s) | mv-expand flag = series_decompose_anomalies_s_ad_flag to typeof(long) \
             | where flag != 0 | project flag, series_decompose_anomalies_s_ad_score[10] > 0"
        ),
        "flag,Column1\n1,true\n",
    )
    .await;
    check_error("print s = dynamic([1]) | where series_fit_line(s) > 0", "returns several columns").await;
}

#[tokio::test]
async fn pivot_turns_values_into_columns() {
    let data = "datatable(Name: string, Team: string, Score: long)[\
        'ann', 'red', 3, 'bob', 'red', 4, 'ann', 'blue', 5, 'cid', 'blue', 1, 'ann', 'red', 2]";
    check(
        &format!("{data} | evaluate pivot(Team, sum(Score), Name) | sort by Name asc"),
        "Name,blue,red\nann,5,5\nbob,0,4\ncid,1,0\n",
    )
    .await;
    // The default aggregation is count(); without group columns, the other columns group.
    check(
        &format!("{data} | project Name, Team | evaluate pivot(Team) | sort by Name asc"),
        "Name,blue,red\nann,1,2\nbob,0,1\ncid,1,0\n",
    )
    .await;
}

#[tokio::test]
async fn ipv4_lookup_matches_addresses_to_ranges() {
    // The documentation's example.
    let q = "let IP_Data = datatable(network: string, continent_code: string, country_name: string)[\
        '111.68.128.0/17', 'AS', 'Japan', '5.8.0.0/19', 'EU', 'Russia', '2.20.183.0/24', 'EU', 'United Kingdom'];\
        datatable(ip: string)['2.20.183.12', '5.8.1.2', '192.165.12.17']";
    check(
        &format!("{q} | evaluate ipv4_lookup(IP_Data, ip, network) | sort by ip asc"),
        "ip,network,continent_code,country_name\n2.20.183.12,2.20.183.0/24,EU,United Kingdom\n5.8.1.2,5.8.0.0/19,EU,Russia\n",
    )
    .await;
    check(
        &format!("{q} | evaluate ipv4_lookup(IP_Data, ip, network, return_unmatched = true) | sort by ip asc | project ip, country_name"),
        "ip,country_name\n192.165.12.17,\n2.20.183.12,United Kingdom\n5.8.1.2,Russia\n",
    )
    .await;
    check_error(&format!("{q} | evaluate ipv4_lookup(IP_Data, address, network)"), "unknown column 'address'").await;
}

#[tokio::test]
async fn row_window_session_follows_the_documented_example() {
    check(
        "datatable (ID: string, Timestamp: datetime) [\
            '1', datetime(2024-04-11 10:00:00), '2', datetime(2024-04-11 10:18:00), '1', datetime(2024-04-11 11:00:00),\
            '3', datetime(2024-04-11 11:30:00), '2', datetime(2024-04-11 13:30:00), '2', datetime(2024-04-11 10:16:00)]\
         | sort by ID asc, Timestamp asc\
         | extend SessionStarted = row_window_session(Timestamp, 1h, 5m, ID != prev(ID))",
        "ID,Timestamp,SessionStarted\n\
         1,2024-04-11T10:00:00Z,2024-04-11T10:00:00Z\n\
         1,2024-04-11T11:00:00Z,2024-04-11T11:00:00Z\n\
         2,2024-04-11T10:16:00Z,2024-04-11T10:16:00Z\n\
         2,2024-04-11T10:18:00Z,2024-04-11T10:16:00Z\n\
         2,2024-04-11T13:30:00Z,2024-04-11T13:30:00Z\n\
         3,2024-04-11T11:30:00Z,2024-04-11T11:30:00Z\n",
    )
    .await;
}

#[tokio::test]
async fn row_ranks_follow_runs_of_equal_terms() {
    check(
        "datatable(Airline: string, Departures: long)['TLV', 3, 'NYC', 4, 'LAX', 3, 'SEA', 3, 'ORD', 4]\
         | sort by Departures asc, Airline asc\
         | extend Dense = row_rank_dense(Departures), Min = row_rank_min(Departures)",
        "Airline,Departures,Dense,Min\nLAX,3,1,1\nSEA,3,1,1\nTLV,3,1,1\nNYC,4,2,4\nORD,4,2,4\n",
    )
    .await;
    // The documentation's partitioned example: the rank restarts per airport.
    check(
        "datatable (Airport: string, Airline: string, Departures: long)[\
            'SEA', 'LH', 3, 'SEA', 'LY', 100, 'SEA', 'UA', 3, 'SEA', 'BA', 2, 'SEA', 'EL', 3, 'AMS', 'EL', 1, 'AMS', 'BA', 1]\
         | sort by Airport desc, Departures asc, Airline asc\
         | extend Rank = row_rank_dense(Departures, prev(Airport) != Airport), Min = row_rank_min(Departures, prev(Airport) != Airport)\
         | project Airport, Airline, Rank, Min",
        "Airport,Airline,Rank,Min\nSEA,BA,1,1\nSEA,EL,2,2\nSEA,LH,2,2\nSEA,UA,2,2\nSEA,LY,3,5\nAMS,BA,1,1\nAMS,EL,1,1\n",
    )
    .await;
}

#[tokio::test]
async fn basket_lists_closed_frequent_patterns() {
    // 10 rows; with a 20% threshold the patterns are the value combinations
    // covering at least 2 rows that no larger combination covers as often.
    let data = "datatable(State: string, Event: string, Damage: string)[\
        'TX', 'Hail', 'NO', 'TX', 'Hail', 'NO', 'TX', 'Hail', 'NO', 'TX', 'Hail', 'NO', 'TX', 'Hail', 'NO',\
        'OK', 'Hail', 'NO', 'TX', 'Wind', 'NO', 'TX', 'Wind', 'NO', 'TX', 'Wind', 'YES', 'TX', 'Wind', 'YES']";
    check(
        &format!("{data} | evaluate basket(0.2)"),
        "SegmentId,Count,Percent,State,Event,Damage\n\
         0,9,90,TX,,\n\
         1,8,80,,,NO\n\
         2,7,70,TX,,NO\n\
         3,6,60,,Hail,NO\n\
         4,5,50,TX,Hail,NO\n\
         5,4,40,TX,Wind,\n\
         6,2,20,TX,Wind,NO\n\
         7,2,20,TX,Wind,YES\n",
    )
    .await;
    // A custom wildcard for strings, and at most two values per pattern.
    check(
        &format!("{data} | evaluate basket(0.5, int(null), 2, '*') | project State, Event, Damage"),
        "State,Event,Damage\nTX,*,*\n*,*,NO\nTX,*,NO\n*,Hail,NO\nTX,Hail,*\n",
    )
    .await;
    // Rows weighted by a column; the weight column is not a dimension.
    check(
        "datatable(A: string, W: long)['x', 3, 'y', 1] | evaluate basket(0.3, W)",
        "SegmentId,Count,Percent,A,W\n0,3,75,x,\n",
    )
    .await;
    check_error(&format!("{data} | evaluate basket(2.0)"), "threshold must be between").await;
}

/// `row_cumsum(term, restart)` sums again from the row's own term where
/// `restart` is true (the reference's example restarts per group with
/// `b != prev(b)`); the restart argument was ignored. A real term sums as real.
#[tokio::test]
async fn row_cumsum_restarts_where_the_condition_holds() {
    check(
        r#"datatable(a:long, k:string)[1,"x", 2,"x", 3,"y", 4,"y"] | serialize
        | extend c = row_cumsum(a, k != prev(k)), r = row_cumsum(todouble(a) / 2, a == 3), plain = row_cumsum(a)"#,
        "a,k,c,r,plain\n1,x,1,0.5,1\n2,x,3,1.5,3\n3,y,3,1.5,6\n4,y,7,3.5,10\n",
    )
    .await;
    check_error(r#"print s = "a" | serialize | extend c = row_cumsum(s, true)"#, "sums").await;
}
