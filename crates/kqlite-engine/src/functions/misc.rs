//! Less common scalar and aggregate functions: unit conversions, special
//! math, Unicode code points, version and CSV parsing.

use super::math::{real_fn, real_kernel};
use super::{coerce, expect_one_of, CallResult, Registry, NUMERIC};
use crate::convert::Bound;
use crate::dynamic::{DynRef, DynValue};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array, as_string_array};
use datafusion::common::Result;
use datafusion::logical_expr::{cast, ColumnarValue, Expr};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("unicode_codepoints_from_string", 1, 1, |_, mut a| {
        let s = coerce("unicode_codepoints_from_string", 0, a.swap_remove(0), KqlType::String)?;
        let expr =
            udf::call("kql_unicode_codepoints_from_string", DataType::Binary, codepoints_from_string, vec![s.expr]);
        Ok(Bound::new(expr, KqlType::Dynamic))
    });
    r.scalar("unicode_codepoints_to_string", 1, 64, |_, a| {
        let mut exprs = Vec::with_capacity(a.len());
        for (i, b) in a.into_iter().enumerate() {
            exprs.push(if b.ty == KqlType::Dynamic {
                b.expr
            } else {
                coerce("unicode_codepoints_to_string", i, b, KqlType::Long)?.expr
            });
        }
        Ok(Bound::new(
            udf::call("kql_unicode_codepoints_to_string", DataType::Utf8, codepoints_to_string, exprs),
            KqlType::String,
        ))
    });
    r.scalar("convert_angle", 3, 3, |_, a| convert("convert_angle", a, convert_angle));
    r.scalar("convert_length", 3, 3, |_, a| convert("convert_length", a, convert_length));
    r.scalar("convert_mass", 3, 3, |_, a| convert("convert_mass", a, convert_mass));
    r.scalar("convert_speed", 3, 3, |_, a| convert("convert_speed", a, convert_speed));
    r.scalar("convert_volume", 3, 3, |_, a| convert("convert_volume", a, convert_volume));
    r.scalar("convert_temperature", 3, 3, |_, a| convert("convert_temperature", a, convert_temperature));
    r.scalar("convert_energy", 3, 3, |_, a| convert("convert_energy", a, convert_energy));
    r.scalar("convert_force", 3, 3, |_, a| convert("convert_force", a, convert_force));
    r.scalar("erf", 1, 1, |_, a| real_fn("erf", a, erf));
    r.scalar("erfc", 1, 1, |_, a| real_fn("erfc", a, erfc));
    r.scalar("gamma", 1, 1, |_, a| real_fn("gamma", a, gamma));
    r.scalar("loggamma", 1, 1, |_, a| real_fn("loggamma", a, loggamma));
    r.scalar("bitset_count_ones", 1, 1, |_, a| {
        expect_one_of("bitset_count_ones", 0, &a[0], &[KqlType::Int, KqlType::Long])?;
        let x = cast(a[0].expr.clone(), DataType::Int64);
        Ok(Bound::new(udf::call("kql_bitset_count_ones", DataType::Int64, bitset_count_ones, vec![x]), KqlType::Long))
    });
    r.scalar("around", 3, 3, |_, a| around(a));
    r.scalar("regex_quote", 1, 1, |_, mut a| {
        let s = coerce("regex_quote", 0, a.swap_remove(0), KqlType::String)?;
        Ok(Bound::new(udf::call("kql_regex_quote", DataType::Utf8, regex_quote, vec![s.expr]), KqlType::String))
    });
    r.scalar("parse_version", 1, 1, |_, mut a| {
        let s = coerce("parse_version", 0, a.swap_remove(0), KqlType::String)?;
        Ok(Bound::new(udf::call("kql_parse_version", DataType::Float64, parse_version, vec![s.expr]), KqlType::Decimal))
    });
    r.scalar("parse_csv", 1, 1, |_, mut a| {
        let s = coerce("parse_csv", 0, a.swap_remove(0), KqlType::String)?;
        Ok(Bound::new(udf::call("kql_parse_csv", DataType::Binary, parse_csv, vec![s.expr]), KqlType::Dynamic))
    });
}

/// Applies `f` to every string of argument 0, building a dynamic column.
fn string_to_dynamic(args: &[ColumnarValue], rows: usize, f: fn(&str) -> DynValue) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let a = args[0].to_array(n)?;
    let mut out = BinaryBuilder::with_capacity(n, n * 16);
    for v in as_string_array(&a)?.iter() {
        match v {
            Some(s) => out.append_value(f(s).encode()),
            None => out.append_null(),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn codepoints_from_string(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    string_to_dynamic(args, rows, |s| DynValue::Array(s.chars().map(|c| DynValue::Long(c as i64)).collect()))
}

/// Concatenates code points from any mix of dynamic arrays and longs; an
/// invalid code point or null argument gives "" (Kusto strings are never null).
fn codepoints_to_string(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for row in 0..n {
        let mut s = String::new();
        let mut ok = true;
        let mut push = |cp: Option<i64>| match cp.and_then(|c| u32::try_from(c).ok()).and_then(char::from_u32) {
            Some(c) => s.push(c),
            None => ok = false,
        };
        for a in &arrays {
            if a.is_null(row) {
                push(None);
            } else if a.data_type() == &DataType::Binary {
                let d = DynRef::new(as_binary_array(a)?.value(row));
                if d.len().is_none() {
                    push(d.as_long());
                }
                for item in d.array_items() {
                    push(item.as_long());
                }
            } else {
                push(Some(as_int64_array(a)?.value(row)));
            }
        }
        out.append_value(if ok { s.as_str() } else { "" });
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// A unit's relation to its family's base unit.
#[derive(Clone, Copy)]
enum Unit {
    /// base = value * f
    Mul(f64),
    /// base = value / d (kept apart so reciprocal factors round as UnitsNet's do)
    Div(f64),
    /// base = value * f + o (temperatures)
    Affine(f64, f64),
}

impl Unit {
    fn to_base(self, v: f64) -> f64 {
        match self {
            Unit::Mul(f) => v * f,
            Unit::Div(d) => v / d,
            Unit::Affine(f, o) => v * f + o,
        }
    }

    fn base_to_unit(self, v: f64) -> f64 {
        match self {
            Unit::Mul(f) => v / f,
            Unit::Div(d) => v * d,
            Unit::Affine(f, o) => (v - o) / f,
        }
    }
}

/// Binds `convert_*(value, from, to)`: a real value and two unit names.
fn convert(name: &str, args: Vec<Bound>, kernel: udf::Kernel) -> CallResult<Bound> {
    let mut it = args.into_iter();
    let value = it.next().unwrap();
    expect_one_of(name, 0, &value, NUMERIC)?;
    let exprs = vec![
        coerce(name, 0, value, KqlType::Real)?.expr,
        coerce(name, 1, it.next().unwrap(), KqlType::String)?.expr,
        coerce(name, 2, it.next().unwrap(), KqlType::String)?.expr,
    ];
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Float64, kernel, exprs), KqlType::Real))
}

fn convert_with(args: &[ColumnarValue], rows: usize, units: fn(&str) -> Option<Unit>) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let (v, from, to) = (as_float64_array(&arrays[0])?, as_string_array(&arrays[1])?, as_string_array(&arrays[2])?);
    let out: Float64Array = (0..n)
        .map(|i| {
            let (v, from, to) = (
                v.is_valid(i).then(|| v.value(i))?,
                from.is_valid(i).then(|| from.value(i))?,
                to.is_valid(i).then(|| to.value(i))?,
            );
            Some(units(to)?.base_to_unit(units(from)?.to_base(v)))
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

macro_rules! unit_family {
    ($kernel:ident, $table:ident, { $($name:literal => $unit:expr),* $(,)? }) => {
        fn $table(name: &str) -> Option<Unit> {
            use Unit::*;
            Some(match name {
                $($name => $unit,)*
                _ => return None,
            })
        }
        fn $kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            convert_with(args, rows, $table)
        }
    };
}

// Factors follow UnitsNet, which Kusto's unit conversions are built on.
unit_family!(convert_angle, angle_unit, {
    "Arcminute" => Div(60.0), "Arcsecond" => Div(3600.0), "Centiradian" => Mul(1e-2 * 180.0 / std::f64::consts::PI),
    "Deciradian" => Mul(1e-1 * 180.0 / std::f64::consts::PI), "Degree" => Mul(1.0), "Gradian" => Mul(0.9),
    "Microdegree" => Mul(1e-6), "Microradian" => Mul(1e-6 * 180.0 / std::f64::consts::PI), "Millidegree" => Mul(1e-3),
    "Milliradian" => Mul(1e-3 * 180.0 / std::f64::consts::PI), "Nanodegree" => Mul(1e-9),
    "Nanoradian" => Mul(1e-9 * 180.0 / std::f64::consts::PI), "NatoMil" => Mul(9.0 / 160.0),
    "Radian" => Mul(180.0 / std::f64::consts::PI), "Revolution" => Mul(360.0),
});

unit_family!(convert_length, length_unit, {
    "Angstrom" => Mul(1e-10), "AstronomicalUnit" => Mul(1.4959787070e11), "Centimeter" => Mul(1e-2), "Chain" => Mul(20.1168),
    "DataMile" => Mul(1828.8), "Decameter" => Mul(1e1), "Decimeter" => Mul(1e-1), "DtpPica" => Div(236.220472441),
    "DtpPoint" => Mul(2.54e-2 / 72.0), "Fathom" => Mul(1.8288), "Foot" => Mul(0.3048), "Hand" => Mul(1.016e-1),
    "Hectometer" => Mul(1e2), "Inch" => Mul(2.54e-2), "KilolightYear" => Mul(9.46073047258e18), "Kilometer" => Mul(1e3),
    "Kiloparsec" => Mul(3.08567758128e19), "LightYear" => Mul(9.46073047258e15), "MegalightYear" => Mul(9.46073047258e21),
    "Megaparsec" => Mul(3.08567758128e22), "Meter" => Mul(1.0), "Microinch" => Mul(2.54e-8), "Micrometer" => Mul(1e-6),
    "Mil" => Mul(2.54e-5), "Mile" => Mul(1609.344), "Millimeter" => Mul(1e-3), "Nanometer" => Mul(1e-9),
    "NauticalMile" => Mul(1852.0), "Parsec" => Mul(3.08567758128e16), "PrinterPica" => Div(237.106301584),
    "PrinterPoint" => Mul(2.54e-2 / 72.27), "Shackle" => Mul(27.432), "SolarRadius" => Mul(6.95510000e8),
    "Twip" => Div(56692.913385826), "UsSurveyFoot" => Mul(1200.0 / 3937.0), "Yard" => Mul(0.9144),
});

unit_family!(convert_mass, mass_unit, {
    "Centigram" => Mul(1e-5), "Decagram" => Mul(1e-2), "Decigram" => Mul(1e-4), "EarthMass" => Mul(5.9722e24),
    "Grain" => Mul(64.79891e-6), "Gram" => Mul(1e-3), "Hectogram" => Mul(1e-1), "Kilogram" => Mul(1.0),
    "Kilopound" => Mul(0.45359237e3), "Kilotonne" => Mul(1e6), "LongHundredweight" => Div(0.01968413055222121),
    "LongTon" => Mul(1.0160469088e3), "Megapound" => Mul(0.45359237e6), "Megatonne" => Mul(1e9), "Microgram" => Mul(1e-9),
    "Milligram" => Mul(1e-6), "Nanogram" => Mul(1e-12), "Ounce" => Mul(0.028349523125), "Pound" => Mul(0.45359237),
    "ShortHundredweight" => Div(0.022046226218487758), "ShortTon" => Mul(9.0718474e2), "Slug" => Div(6.852176556196105e-2),
    "SolarMass" => Mul(1.98947e30), "Stone" => Div(0.1574731728702698), "Tonne" => Mul(1e3),
});

unit_family!(convert_speed, speed_unit, {
    "CentimeterPerHour" => Div(3600.0 / 1e-2), "CentimeterPerMinute" => Mul(1e-2 / 60.0), "CentimeterPerSecond" => Mul(1e-2),
    "DecimeterPerMinute" => Mul(1e-1 / 60.0), "DecimeterPerSecond" => Mul(1e-1), "FootPerHour" => Mul(0.3048 / 3600.0),
    "FootPerMinute" => Mul(0.3048 / 60.0), "FootPerSecond" => Mul(0.3048), "InchPerHour" => Mul(0.0254 / 3600.0),
    "InchPerMinute" => Mul(0.0254 / 60.0), "InchPerSecond" => Mul(0.0254), "KilometerPerHour" => Mul(1e3 / 3600.0),
    "KilometerPerMinute" => Mul(1e3 / 60.0), "KilometerPerSecond" => Mul(1e3), "Knot" => Mul(1852.0 / 3600.0),
    "Mach" => Mul(340.29), "MeterPerHour" => Mul(1.0 / 3600.0), "MeterPerMinute" => Mul(1.0 / 60.0), "MeterPerSecond" => Mul(1.0),
    "MicrometerPerMinute" => Mul(1e-6 / 60.0), "MicrometerPerSecond" => Mul(1e-6), "MilePerHour" => Mul(0.44704),
    "MillimeterPerHour" => Mul(1e-3 / 3600.0), "MillimeterPerMinute" => Mul(1e-3 / 60.0), "MillimeterPerSecond" => Mul(1e-3),
    "NanometerPerMinute" => Mul(1e-9 / 60.0), "NanometerPerSecond" => Mul(1e-9),
    "UsSurveyFootPerHour" => Mul(1200.0 / 3937.0 / 3600.0), "UsSurveyFootPerMinute" => Mul(1200.0 / 3937.0 / 60.0),
    "UsSurveyFootPerSecond" => Mul(1200.0 / 3937.0), "YardPerHour" => Mul(0.9144 / 3600.0),
    "YardPerMinute" => Mul(0.9144 / 60.0), "YardPerSecond" => Mul(0.9144),
});

unit_family!(convert_volume, volume_unit, {
    "AcreFoot" => Div(0.000810714), "AuTablespoon" => Mul(2e-5), "Centiliter" => Mul(1e-5), "CubicCentimeter" => Mul(1e-6),
    "CubicDecimeter" => Mul(1e-3), "CubicFoot" => Mul(0.0283168), "CubicHectometer" => Mul(1e6), "CubicInch" => Mul(1.6387e-5),
    "CubicKilometer" => Mul(1e9), "CubicMeter" => Mul(1.0), "CubicMicrometer" => Mul(1e-18), "CubicMile" => Mul(4.16818182544058e9),
    "CubicMillimeter" => Mul(1e-9), "CubicYard" => Mul(0.764554858), "Decaliter" => Mul(1e-2), "DecausGallon" => Mul(0.00378541e1),
    "Deciliter" => Mul(1e-4), "DeciusGallon" => Mul(0.00378541e-1), "HectocubicFoot" => Mul(0.0283168e2),
    "HectocubicMeter" => Mul(1e2), "Hectoliter" => Mul(1e-1), "HectousGallon" => Mul(0.00378541e2),
    "ImperialBeerBarrel" => Mul(0.16365924), "ImperialGallon" => Mul(0.004_546_090_000_001_814_5),
    "ImperialOunce" => Mul(2.841_306_249_996_29e-5), "ImperialPint" => Mul(5.6826125e-4),
    "KilocubicFoot" => Mul(0.0283168e3), "KilocubicMeter" => Mul(1e3), "KiloimperialGallon" => Mul(0.00454609e3),
    "Kiloliter" => Mul(1.0), "KilousGallon" => Mul(0.00378541e3), "Liter" => Mul(1e-3), "MegacubicFoot" => Mul(0.0283168e6),
    "MegaimperialGallon" => Mul(0.00454609e6), "Megaliter" => Mul(1e3), "MegausGallon" => Mul(0.00378541e6),
    "MetricCup" => Mul(0.00025), "MetricTeaspoon" => Mul(0.5e-5), "Microliter" => Mul(1e-9), "Milliliter" => Mul(1e-6),
    "OilBarrel" => Mul(0.158987294928), "UkTablespoon" => Mul(1.5e-5), "UsBeerBarrel" => Mul(0.1173477658),
    "UsCustomaryCup" => Mul(0.0002365882365), "UsGallon" => Mul(0.00378541), "UsLegalCup" => Mul(0.00024),
    "UsOunce" => Mul(2.957_352_956_253_760_6e-5), "UsPint" => Mul(4.73176473e-4), "UsQuart" => Mul(9.46352946e-4),
    "UsTablespoon" => Mul(1.478676478125e-5), "UsTeaspoon" => Mul(4.92892159375e-6),
});

unit_family!(convert_temperature, temperature_unit, {
    "DegreeCelsius" => Affine(1.0, 273.15), "DegreeDelisle" => Affine(-2.0 / 3.0, 373.15),
    "DegreeFahrenheit" => Affine(5.0 / 9.0, 459.67 * 5.0 / 9.0), "DegreeNewton" => Affine(100.0 / 33.0, 273.15),
    "DegreeRankine" => Affine(5.0 / 9.0, 0.0), "DegreeReaumur" => Affine(5.0 / 4.0, 273.15),
    "DegreeRoemer" => Affine(40.0 / 21.0, 273.15 - 7.5 * 40.0 / 21.0), "Kelvin" => Affine(1.0, 0.0),
    "MillidegreeCelsius" => Affine(1e-3, 273.15), "SolarTemperature" => Affine(5778.0, 0.0),
});

unit_family!(convert_energy, energy_unit, {
    "BritishThermalUnit" => Mul(1055.05585262), "Calorie" => Mul(4.184), "DecathermEc" => Mul(1.05505585262e9),
    "DecathermImperial" => Mul(1.05505585257348e9), "DecathermUs" => Mul(1.054804e9), "ElectronVolt" => Mul(1.602176565e-19),
    "Erg" => Mul(1e-7), "FootPound" => Mul(1.355817948), "GigabritishThermalUnit" => Mul(1055.05585262e9),
    "GigaelectronVolt" => Mul(1.602176565e-10), "Gigajoule" => Mul(1e9), "GigawattDay" => Mul(24.0 * 3600.0 * 1e9),
    "GigawattHour" => Mul(3600.0 * 1e9), "HorsepowerHour" => Mul(2.6845195377e6), "Joule" => Mul(1.0),
    "KilobritishThermalUnit" => Mul(1055.05585262e3), "Kilocalorie" => Mul(4.184e3), "KiloelectronVolt" => Mul(1.602176565e-16),
    "Kilojoule" => Mul(1e3), "KilowattDay" => Mul(24.0 * 3600.0 * 1e3), "KilowattHour" => Mul(3600.0 * 1e3),
    "MegabritishThermalUnit" => Mul(1055.05585262e6), "Megacalorie" => Mul(4.184e6), "MegaelectronVolt" => Mul(1.602176565e-13),
    "Megajoule" => Mul(1e6), "MegawattDay" => Mul(24.0 * 3600.0 * 1e6), "MegawattHour" => Mul(3600.0 * 1e6),
    "Millijoule" => Mul(1e-3), "TeraelectronVolt" => Mul(1.602176565e-7), "TerawattDay" => Mul(24.0 * 3600.0 * 1e12),
    "TerawattHour" => Mul(3600.0 * 1e12), "ThermEc" => Mul(1.05505585262e8), "ThermImperial" => Mul(1.05505585257348e8),
    "ThermUs" => Mul(1.054804e8), "WattDay" => Mul(24.0 * 3600.0), "WattHour" => Mul(3600.0),
});

unit_family!(convert_force, force_unit, {
    "Decanewton" => Mul(1e1), "Dyn" => Mul(1e-5), "KilogramForce" => Mul(9.80665002864), "Kilonewton" => Mul(1e3),
    "KiloPond" => Mul(9.80665002864), "KilopoundForce" => Mul(4448.2216152605), "Meganewton" => Mul(1e6),
    "Micronewton" => Mul(1e-6), "Millinewton" => Mul(1e-3), "Newton" => Mul(1.0), "OunceForce" => Mul(2.780138509537812e-1),
    "Poundal" => Mul(0.138_255_027_989_730_4), "PoundForce" => Mul(4.4482216152605), "ShortTonForce" => Mul(8.896443230521e3),
    "TonneForce" => Mul(9.80665002864e3),
});

// libm ports FreeBSD's msun (Sun's fdlibm): accurate to about 1 ulp.
real_kernel!(erf, |x| libm::erf(x));
real_kernel!(erfc, |x| libm::erfc(x));
real_kernel!(gamma, |x| libm::tgamma(x));
real_kernel!(loggamma, |x| libm::lgamma(x));

fn bitset_count_ones(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let a = args[0].to_array(n)?;
    let out: Int64Array = as_int64_array(&a)?.iter().map(|v| v.map(|x| x.count_ones() as i64)).collect();
    maybe_scalar(args, Arc::new(out))
}

/// `around(value, center, delta)`: `center - delta <= value <= center + delta`,
/// on numbers, or datetimes with a timespan delta.
fn around(args: Vec<Bound>) -> CallResult<Bound> {
    let mut it = args.into_iter();
    let (value, center, delta) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let (v, c, d): (Expr, Expr, Expr) = match value.ty {
        KqlType::Datetime | KqlType::Timespan => {
            let ty = value.ty;
            (value.expr, coerce("around", 1, center, ty)?.expr, coerce("around", 2, delta, KqlType::Timespan)?.expr)
        }
        _ => {
            let mut exprs = Vec::new();
            for (i, b) in [value, center, delta].into_iter().enumerate() {
                expect_one_of("around", i, &b, NUMERIC)?;
                exprs.push(cast(b.expr, DataType::Float64));
            }
            let d = exprs.pop().unwrap();
            let c = exprs.pop().unwrap();
            (exprs.pop().unwrap(), c, d)
        }
    };
    let expr = v.clone().gt_eq(c.clone() - d.clone()).and(v.lt_eq(c + d));
    Ok(Bound::new(expr, KqlType::Bool))
}

fn regex_quote(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let a = args[0].to_array(n)?;
    let out: StringArray = as_string_array(&a)?.iter().map(|v| Some(regex::escape(v.unwrap_or("")))).collect();
    maybe_scalar(args, Arc::new(out))
}

/// Kusto's `parse_version`: up to four dot-separated parts of up to eight
/// digits each, weighted as 8-digit groups (`1.2` = 1 * 10^24 + 2 * 10^16).
/// Kusto returns an exact decimal; here it is a real, which still orders
/// versions correctly.
fn version_value(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.trim().split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut total = 0f64;
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        total += p.parse::<f64>().ok()? * 1e8f64.powi(3 - i as i32);
    }
    Some(total)
}

fn parse_version(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let a = args[0].to_array(n)?;
    let out: Float64Array = as_string_array(&a)?.iter().map(|v| v.and_then(version_value)).collect();
    maybe_scalar(args, Arc::new(out))
}

/// The first record of RFC 4180 CSV text as an array of strings.
fn csv_record(s: &str) -> DynValue {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => fields.push(DynValue::String(std::mem::take(&mut field))),
            '\n' | '\r' if !quoted => break,
            c => field.push(c),
        }
    }
    fields.push(DynValue::String(field));
    DynValue::Array(fields)
}

fn parse_csv(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    string_to_dynamic(args, rows, csv_record)
}
