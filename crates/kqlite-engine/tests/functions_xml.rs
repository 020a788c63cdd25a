//! `parse_xml` end to end: the conversion table and example from Kusto's docs, Windows
//! `EventData` as Sentinel queries use it, and invalid input.

mod common;

use common::run_ok as run;

/// The CSV value of `print x = parse_xml('<xml>')`.
async fn xml(text: &str) -> String {
    let out = run(&format!("print x = parse_xml('{text}')")).await;
    let value = out.strip_prefix("x\n").unwrap_or_else(|| panic!("{out}")).trim_end_matches('\n');
    // CSV quotes JSON values; unquote for readable assertions.
    value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).map(|v| v.replace("\"\"", "\"")).unwrap_or(value.into())
}

#[tokio::test]
async fn docs_conversion_table() {
    assert_eq!(xml("<e/>").await, r##"{"e":null}"##);
    assert_eq!(xml("<e>text</e>").await, r##"{"e":"text"}"##);
    assert_eq!(xml(r##"<e name="value" />"##).await, r##"{"e":{"@name":"value"}}"##);
    assert_eq!(xml(r##"<e name="value">text</e>"##).await, r##"{"e":{"@name":"value","#text":"text"}}"##);
    assert_eq!(xml("<e> <a>text</a> <b>text</b> </e>").await, r##"{"e":{"a":"text","b":"text"}}"##);
    assert_eq!(xml("<e> <a>text</a> <a>text</a> </e>").await, r##"{"e":{"a":["text","text"]}}"##);
    assert_eq!(xml("<e> text <a>text</a> </e>").await, r##"{"e":{"#text":"text","a":"text"}}"##);
}

#[tokio::test]
async fn docs_example() {
    let q = r##"datatable(context_custom_metrics:string)[```<?xml version="1.0" encoding="UTF-8"?>
<duration>
    <value>118.0</value>
    <count>5.0</count>
    <min>100.0</min>
    <max>150.0</max>
    <stdDev>0.0</stdDev>
    <sampledValue>118.0</sampledValue>
    <sum>118.0</sum>
</duration>```]
| extend d = parse_xml(context_custom_metrics)
| project duration_value = d.duration.value, duration_min = d["duration"]["min"]"##;
    assert_eq!(run(q).await, "duration_value,duration_min\n118.0,100.0\n");
}

#[tokio::test]
async fn windows_event_data() {
    let q = r##"print x = parse_xml('<EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><Data Name="SubjectUserSid">S-1-5-18</Data><Data Name="SubjectUserName">DC1$</Data></EventData>')
| project n0 = tostring(x.EventData.Data[0]["@Name"]), v0 = tostring(x.EventData.Data[0]["#text"]),
          n1 = tostring(x.EventData.Data[1]["@Name"]), v1 = tostring(x.EventData.Data[1]["#text"]),
          ns = tostring(x.EventData["@xmlns"])"##;
    assert_eq!(
        run(q).await,
        "n0,v0,n1,v1,ns\nSubjectUserSid,S-1-5-18,SubjectUserName,DC1$,http://schemas.microsoft.com/win/2004/08/events/event\n"
    );
}

#[tokio::test]
async fn details() {
    // Entities, CDATA, comments and processing instructions; empty elements with and without attributes.
    assert_eq!(xml("<a>x &amp; &lt;y&gt; &#65;</a>").await, r##"{"a":"x & <y> A"}"##);
    assert_eq!(xml("<a><![CDATA[<raw>]]></a>").await, r##"{"a":"<raw>"}"##);
    assert_eq!(
        xml("<!-- c --><?pi x?><a><!-- c --><b/><c></c><d k=\"1\"/></a>").await,
        r##"{"a":{"b":null,"c":null,"d":{"@k":"1"}}}"##
    );
    // Same-named siblings group at the first one's position, even when interleaved.
    assert_eq!(xml("<r><a>1</a><b>2</b><a>3</a></r>").await, r##"{"r":{"a":["1","3"],"b":"2"}}"##);
    // Namespace prefixes stay in the names.
    assert_eq!(xml(r##"<p:r xmlns:p="urn:x" p:k="v"/>"##).await, r##"{"p:r":{"@xmlns:p":"urn:x","@p:k":"v"}}"##);
}

#[tokio::test]
async fn invalid_is_null() {
    for text in ["", "not xml", "<a>", "<a></b>", "<a/><b/>", "<a/>trailing", r##"<a k="1" k="2"/>"##, "<a>&bogus;</a>"]
    {
        assert_eq!(xml(text).await, "", "{text}");
    }
    let q = "datatable(s:string)['<a>1</a>', 'bad'] | extend x = parse_xml(s) | project t = gettype(x)";
    assert_eq!(run(q).await, "t\ndictionary\nnull\n");
    // strrep caps its multiplier at 1024, so nest it to pass the 1 MB input limit.
    let q = "print s = strcat('<a>', strrep(strrep('x', 1024), 1024), '</a>') | project n = strlen(s), t = gettype(parse_xml(s))";
    assert_eq!(run(q).await, "n,t\n1048583,null\n");
}
