//! The sample shop's pricing rules ([`sample_pricing`]): the taxes,
//! shipping zones and automatic discount `ShopData::sample()` and the
//! generated shops price carts with.

use super::data::Price;
use super::pricing::{
    AutomaticDiscount, CountryRules, PostalCodeFormat, PricingRules, Rate, ShippingRateRule,
    ShippingZone, Subdivision, TaxRate,
};

const US_STATES: &[(&str, &str)] = &[
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("PR", "Puerto Rico"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
];

const CA_PROVINCES: &[(&str, &str)] = &[
    ("AB", "Alberta"),
    ("BC", "British Columbia"),
    ("MB", "Manitoba"),
    ("NB", "New Brunswick"),
    ("NL", "Newfoundland and Labrador"),
    ("NT", "Northwest Territories"),
    ("NS", "Nova Scotia"),
    ("NU", "Nunavut"),
    ("ON", "Ontario"),
    ("PE", "Prince Edward Island"),
    ("QC", "Quebec"),
    ("SK", "Saskatchewan"),
    ("YT", "Yukon"),
];

/// The sample shop's rules: a US merchant registered for sales tax in four
/// states with different rates (California 7.25 %, New York 4 % with
/// shipping taxed, Texas 6.25 % with shipping taxed, Washington 6.5 %),
/// collecting Canadian GST/HST/PST/QST and German VAT (19 %, shipping taxed);
/// prices exclude tax. Shipping: US Standard $6.95 under $75 and free from
/// $75, Express $19.95; Canada Standard $14.95 and Express $34.95; Germany
/// International $24.95. Automatic discount: 10 % off from $200.
pub fn sample_pricing() -> PricingRules {
    let state = |code: &str, name: &str| -> Subdivision {
        let taxed = |bp: u32, shipping: bool| Subdivision {
            taxes: vec![TaxRate::new(
                &format!("{code} State Tax"),
                Rate::from_bp(bp),
            )],
            shipping_taxable: Some(shipping),
            ..Subdivision::untaxed(code, name)
        };
        match code {
            "CA" => taxed(725, false),
            "NY" => taxed(400, true),
            "TX" => taxed(625, true),
            "WA" => taxed(650, false),
            _ => Subdivision::untaxed(code, name),
        }
    };
    let province = |code: &str, name: &str| -> Subdivision {
        let hst = |bp: u32| Subdivision {
            taxes: vec![TaxRate::new("HST", Rate::from_bp(bp))],
            replaces_country_taxes: true,
            ..Subdivision::untaxed(code, name)
        };
        let extra = |title: &str, rate: Rate| Subdivision {
            taxes: vec![TaxRate::new(title, rate)],
            ..Subdivision::untaxed(code, name)
        };
        match code {
            "ON" => hst(1300),
            "NB" | "NL" | "PE" => hst(1500),
            "NS" => hst(1400),
            "BC" => extra("PST", Rate::from_bp(700)),
            "MB" => extra("RST", Rate::from_bp(700)),
            "SK" => extra("PST", Rate::from_bp(600)),
            "QC" => extra("QST", Rate(99_750)),
            _ => Subdivision::untaxed(code, name),
        }
    };
    let us = CountryRules {
        code: "US".to_owned(),
        name: "United States".to_owned(),
        subdivisions: US_STATES.iter().map(|(c, n)| state(c, n)).collect(),
        postal_code: PostalCodeFormat::UsZip,
        taxes: Vec::new(),
        shipping_taxable: false,
    };
    let ca = CountryRules {
        code: "CA".to_owned(),
        name: "Canada".to_owned(),
        subdivisions: CA_PROVINCES.iter().map(|(c, n)| province(c, n)).collect(),
        postal_code: PostalCodeFormat::Canadian,
        taxes: vec![TaxRate::new("GST", Rate::from_bp(500))],
        shipping_taxable: true,
    };
    let de = CountryRules {
        code: "DE".to_owned(),
        name: "Germany".to_owned(),
        subdivisions: Vec::new(),
        postal_code: PostalCodeFormat::Digits(5),
        taxes: vec![TaxRate::new("VAT", Rate::from_bp(1900))],
        shipping_taxable: true,
    };
    let rate = |title: &str, price: Price| ShippingRateRule {
        title: title.to_owned(),
        price,
        min_subtotal: None,
        max_subtotal: None,
    };
    let zone = |name: &str, country: &str, rates: Vec<ShippingRateRule>| ShippingZone {
        name: name.to_owned(),
        countries: vec![country.to_owned()],
        rates,
    };
    PricingRules {
        taxes_included: false,
        countries: vec![us, ca, de],
        shipping_zones: vec![
            zone(
                "Domestic",
                "US",
                vec![
                    ShippingRateRule {
                        max_subtotal: Some(Price::new(74, 99)),
                        ..rate("Standard", Price::new(6, 95))
                    },
                    ShippingRateRule {
                        min_subtotal: Some(Price::new(75, 0)),
                        ..rate("Standard", Price(0))
                    },
                    rate("Express", Price::new(19, 95)),
                ],
            ),
            zone(
                "Canada",
                "CA",
                vec![
                    rate("Standard", Price::new(14, 95)),
                    rate("Express", Price::new(34, 95)),
                ],
            ),
            zone(
                "Europe",
                "DE",
                vec![rate("International", Price::new(24, 95))],
            ),
        ],
        automatic_discounts: vec![AutomaticDiscount {
            title: "10% off orders over $200".to_owned(),
            percentage: Rate::from_bp(1000),
            minimum_subtotal: Price::new(200, 0),
        }],
    }
}
