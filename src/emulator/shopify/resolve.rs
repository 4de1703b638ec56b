//! Field resolvers for every type in `queries/shopify/schema.graphql`; the
//! checkout pricing and order types delegate to `commerce.rs`.
//!
//! [`Obj`] is one GraphQL object (borrowing the catalog); `resolve` returns a
//! [`Resolved`] value that the executor completes against the field's type.
//! Scalars are produced exactly as Shopify prints them: Money as strings
//! (`"79.99"`), `MoneyV2.amount` decimals as `"10.0"`/`"79.99"`, DateTime
//! as `2026-11-28T10:00:00Z`, UnsignedInt64 as a digit string, enums as
//! their names.

use apollo_compiler::response::{JsonMap, JsonValue};

use super::bulk::{BulkStart, BulkUserError, BulkView};
use super::catalog::{Catalog, ProductSort, SortPos, SortValue};
use super::commerce::{self, Co};
use super::data::{
    Image, Media, MediaKind, Policy, Product, ProductOption, ProductStatus, Publication,
    SelectedOption, ShopInfo, Variant, Weight, format_datetime, parse_gid,
};
use super::mutate::{Applied, Commerce, Outcome};
use super::order_read::{self, Lo};
use super::page::{Page, PageArgs, encode_cursor, paginate_list, paginate_products};
use super::search::ProductQuery;

/// What the executor needs from the bulk-operation registry.
pub(crate) trait BulkHost: Sync {
    /// Validates and starts a bulk query.
    fn start(&self, query: &str, catalog: &Catalog) -> BulkStart;
    /// The current state of a bulk operation.
    fn find(&self, id: u64) -> Option<BulkView>;
}

/// Read-only state shared by all resolvers of one execution.
pub(crate) struct Context<'a> {
    pub shop: &'a ShopInfo,
    pub publications: &'a [Publication],
    /// `None` inside bulk runs, which work on a snapshot.
    pub catalog: Option<&'a Catalog>,
    pub online_store: Option<u64>,
    /// Bulk mode: connections need no `first`/`last` and are not paginated.
    pub bulk: bool,
    pub host: Option<&'a dyn BulkHost>,
}

/// A resolved field value before completion.
pub(crate) enum Resolved<'a> {
    Null,
    Leaf(JsonValue),
    Object(Obj<'a>),
    List(Vec<Resolved<'a>>),
}

/// A page of a connection, already resolved to node objects.
#[derive(Clone)]
pub(crate) struct Conn<'a> {
    pub type_name: &'static str,
    pub edge_type: &'static str,
    pub items: Vec<(Obj<'a>, SortPos)>,
    pub has_next: bool,
    pub has_prev: bool,
}

/// One GraphQL object.
#[derive(Clone)]
pub(crate) enum Obj<'a> {
    /// The query root, with the shop's orders.
    Query(&'a Commerce),
    /// The mutation root, with the outcomes of the fields already applied
    /// (`mutate.rs`).
    Mutation(&'a Applied),
    Shop,
    Domain,
    ShopAddress,
    ShopPolicy(&'a Policy),
    Publication(&'a Publication),
    Catalog(&'a Publication),
    Connection(Box<Conn<'a>>),
    Edge(&'static str, Box<Obj<'a>>, SortPos),
    PageInfo(bool, bool, Option<String>, Option<String>),
    Product(&'a Product),
    Variant(&'a Product, &'a Variant),
    Media(&'a Media),
    Image(&'a Image),
    InventoryItem(&'a Product, &'a Variant),
    Measurement(&'a Variant),
    Weight(Weight),
    SelectedOption(&'a SelectedOption),
    ProductOption(&'a ProductOption),
    Category(&'a str),
    BulkPayload(Box<BulkStart>),
    BulkOperation(Box<BulkView>),
    BulkUserError(BulkUserError),
    /// Checkout pricing and orders (`commerce.rs`).
    Commerce(Co<'a>),
    /// Order lifecycle and webhook subscriptions (`order_read.rs`).
    Life(Lo<'a>),
}

fn leaf<'a>(v: impl Into<JsonValue>) -> Result<Resolved<'a>, String> {
    Ok(Resolved::Leaf(v.into()))
}

fn opt_leaf<'a, T: Into<JsonValue>>(v: Option<T>) -> Result<Resolved<'a>, String> {
    Ok(v.map_or(Resolved::Null, |v| Resolved::Leaf(v.into())))
}

fn object(obj: Obj<'_>) -> Result<Resolved<'_>, String> {
    Ok(Resolved::Object(obj))
}

fn list<'a>(items: impl IntoIterator<Item = Obj<'a>>) -> Result<Resolved<'a>, String> {
    Ok(Resolved::List(
        items.into_iter().map(Resolved::Object).collect(),
    ))
}

fn str_arg<'x>(args: &'x JsonMap, name: &str) -> Option<&'x str> {
    args.get(name).and_then(|v| v.as_str())
}

fn gid_arg(args: &JsonMap, name: &str, kind: &str) -> Result<Option<u64>, String> {
    match args.get(name) {
        Some(JsonValue::Number(n)) => Ok(n.as_u64()),
        Some(JsonValue::String(s)) => {
            let text = s.as_str();
            if !text.starts_with("gid://") && text.parse::<u64>().is_err() {
                return Err(format!("Invalid global id '{text}'"));
            }
            Ok(parse_gid(text, kind))
        }
        _ => Ok(None),
    }
}

pub(crate) fn connection<'a>(
    type_name: &'static str,
    edge_type: &'static str,
    page: Page<Obj<'a>>,
) -> Result<Resolved<'a>, String> {
    object(Obj::Connection(Box::new(Conn {
        type_name,
        edge_type,
        items: page.items,
        has_next: page.has_next,
        has_prev: page.has_prev,
    })))
}

fn int_pos(i: usize, id: u64) -> SortPos {
    SortPos {
        value: SortValue::Int(i as i64),
        id,
    }
}

fn media_connection<'a>(
    media: Vec<(usize, &'a Media)>,
    args: &JsonMap,
    bulk: bool,
) -> Result<Resolved<'a>, String> {
    let page_args = PageArgs::from_args(args, bulk)?;
    let items = media
        .into_iter()
        .map(|(i, m)| (int_pos(i, m.id), Obj::Media(m)))
        .collect();
    connection(
        "MediaConnection",
        "MediaEdge",
        paginate_list(items, &page_args),
    )
}

impl<'a> Obj<'a> {
    /// The concrete GraphQL object type.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Obj::Query(_) => "QueryRoot",
            Obj::Mutation(_) => "Mutation",
            Obj::Shop => "Shop",
            Obj::Domain => "Domain",
            Obj::ShopAddress => "ShopAddress",
            Obj::ShopPolicy(_) => "ShopPolicy",
            Obj::Publication(_) => "Publication",
            Obj::Catalog(_) => "AppCatalog",
            Obj::Connection(c) => c.type_name,
            Obj::Edge(t, _, _) => t,
            Obj::PageInfo(..) => "PageInfo",
            Obj::Product(_) => "Product",
            Obj::Variant(..) => "ProductVariant",
            Obj::Media(m) => m.type_name(),
            Obj::Image(_) => "Image",
            Obj::InventoryItem(..) => "InventoryItem",
            Obj::Measurement(_) => "InventoryItemMeasurement",
            Obj::Weight(_) => "Weight",
            Obj::SelectedOption(_) => "SelectedOption",
            Obj::ProductOption(_) => "ProductOption",
            Obj::Category(_) => "TaxonomyCategory",
            Obj::BulkPayload(_) => "BulkOperationRunQueryPayload",
            Obj::BulkOperation(_) => "BulkOperation",
            Obj::BulkUserError(_) => "BulkOperationUserError",
            Obj::Commerce(c) => c.type_name(),
            Obj::Life(l) => l.type_name(),
        }
    }

    /// The GID of a node object (the `__parentId` of its bulk children).
    pub(crate) fn gid(&self) -> Option<String> {
        match self {
            Obj::Product(p) => Some(p.gid()),
            Obj::Variant(_, v) => Some(v.gid()),
            Obj::Media(m) => Some(m.gid()),
            Obj::Publication(p) => Some(p.gid()),
            Obj::Commerce(c) => c.gid(),
            Obj::Life(l) => l.gid(),
            _ => None,
        }
    }

    /// Resolves the field selected under response key `key`. Only the
    /// mutation root looks at the key: its stateful fields were applied
    /// before execution and their outcomes are found by key.
    pub(crate) fn resolve_keyed(
        &self,
        key: &str,
        field: &str,
        args: &JsonMap,
        cx: &Context<'a>,
    ) -> Result<Resolved<'a>, String> {
        let Obj::Mutation(applied) = self else {
            return self.resolve(field, args, cx);
        };
        match applied.get(key) {
            None => self.resolve(field, args, cx),
            Some(Err(message)) => Err(message.clone()),
            Some(Ok(Outcome::Draft(outcome))) => {
                Ok(Resolved::Object(Obj::Commerce(Co::DraftPayload(outcome))))
            }
            Some(Ok(Outcome::Create(outcome))) => {
                Ok(Resolved::Object(Obj::Commerce(Co::CreatePayload(outcome))))
            }
            Some(Ok(Outcome::Life(outcome))) => {
                Ok(Resolved::Object(Obj::Life(Lo::Payload(outcome))))
            }
            Some(Ok(Outcome::Hook(outcome))) => {
                Ok(Resolved::Object(Obj::Life(Lo::HookPayload(outcome))))
            }
        }
    }

    /// Resolves one field of this object.
    pub(crate) fn resolve(
        &self,
        field: &str,
        args: &JsonMap,
        cx: &Context<'a>,
    ) -> Result<Resolved<'a>, String> {
        let unknown = || {
            Err(format!(
                "Field '{field}' doesn't exist on type '{}'",
                self.type_name()
            ))
        };
        match self {
            Obj::Query(commerce) => resolve_query(field, args, cx, commerce),
            Obj::Mutation(_) => match field {
                "bulkOperationRunQuery" => {
                    let (Some(host), Some(catalog)) = (cx.host, cx.catalog) else {
                        return Err("Bulk operations cannot be started here".to_owned());
                    };
                    let query = str_arg(args, "query").unwrap_or_default();
                    object(Obj::BulkPayload(Box::new(host.start(query, catalog))))
                }
                _ => unknown(),
            },
            Obj::Shop => match field {
                "id" => leaf(format!("gid://shopify/Shop/{}", cx.shop.id)),
                "name" => leaf(cx.shop.name.as_str()),
                "myshopifyDomain" => leaf(cx.shop.myshopify_domain.as_str()),
                "currencyCode" => leaf(cx.shop.currency_code.as_str()),
                "shipsToCountries" => Ok(Resolved::List(
                    cx.shop
                        .ships_to_countries
                        .iter()
                        .map(|c| Resolved::Leaf(c.as_str().into()))
                        .collect(),
                )),
                "primaryDomain" => object(Obj::Domain),
                "shopAddress" => object(Obj::ShopAddress),
                "shopPolicies" => list(cx.shop.policies.iter().map(Obj::ShopPolicy)),
                _ => unknown(),
            },
            Obj::Domain => match field {
                "host" => leaf(cx.shop.primary_domain_host.as_str()),
                "url" => leaf(cx.shop.primary_url()),
                _ => unknown(),
            },
            Obj::ShopAddress => match field {
                "countryCodeV2" => leaf(cx.shop.country_code.as_str()),
                _ => unknown(),
            },
            Obj::ShopPolicy(p) => match field {
                "type" => leaf(p.kind.as_str()),
                "url" => leaf(p.url.as_str()),
                _ => unknown(),
            },
            Obj::Publication(p) => match field {
                "id" => leaf(p.gid()),
                "catalog" => object(Obj::Catalog(p)),
                _ => unknown(),
            },
            Obj::Catalog(p) => match field {
                "id" => leaf(format!("gid://shopify/AppCatalog/{}", p.id)),
                "title" => leaf(p.name.as_str()),
                _ => unknown(),
            },
            Obj::Connection(c) => match field {
                "edges" => list(c.items.iter().map(|(node, cursor)| {
                    Obj::Edge(c.edge_type, Box::new(node.clone()), cursor.clone())
                })),
                "nodes" => list(c.items.iter().map(|(node, _)| node.clone())),
                "pageInfo" => object(Obj::PageInfo(
                    c.has_next,
                    c.has_prev,
                    c.items.first().map(|i| encode_cursor(&i.1)),
                    c.items.last().map(|i| encode_cursor(&i.1)),
                )),
                _ => unknown(),
            },
            Obj::Edge(_, node, cursor) => match field {
                "node" => object((**node).clone()),
                "cursor" => leaf(encode_cursor(cursor)),
                _ => unknown(),
            },
            Obj::PageInfo(has_next, has_prev, start, end) => match field {
                "hasNextPage" => leaf(*has_next),
                "hasPreviousPage" => leaf(*has_prev),
                "startCursor" => opt_leaf(start.as_deref()),
                "endCursor" => opt_leaf(end.as_deref()),
                _ => unknown(),
            },
            Obj::Product(p) => resolve_product(p, field, args, cx),
            Obj::Variant(p, v) => resolve_variant(p, v, field, args, cx),
            Obj::Media(m) => match field {
                "id" => leaf(m.gid()),
                "alt" => opt_leaf(m.alt.as_deref()),
                "mediaContentType" => leaf(m.content_type()),
                "image" => match &m.kind {
                    MediaKind::Image(image) => object(Obj::Image(image)),
                    _ => Ok(Resolved::Null),
                },
                _ => unknown(),
            },
            Obj::Image(i) => match field {
                "url" => leaf(i.url.as_str()),
                "altText" => opt_leaf(i.alt_text.as_deref()),
                "width" => opt_leaf(i.width),
                "height" => opt_leaf(i.height),
                _ => unknown(),
            },
            Obj::InventoryItem(p, v) => match field {
                "id" => leaf(format!(
                    "gid://shopify/InventoryItem/{}",
                    super::payloads::inventory_item_id(v.id)
                )),
                // One item per variant here (Shopify shares an item between
                // variants only for bundles, which the emulator has none of).
                "variants" => {
                    let page_args = PageArgs::from_args(args, cx.bulk)?;
                    let items = vec![(
                        SortPos {
                            value: SortValue::Int(1),
                            id: v.id,
                        },
                        Obj::Variant(p, v),
                    )];
                    connection(
                        "ProductVariantConnection",
                        "ProductVariantEdge",
                        paginate_list(items, &page_args),
                    )
                }
                "tracked" => leaf(v.tracked),
                "requiresShipping" => leaf(v.requires_shipping),
                "measurement" => object(Obj::Measurement(v)),
                _ => unknown(),
            },
            Obj::Measurement(v) => match field {
                "weight" => Ok(v
                    .weight
                    .map_or(Resolved::Null, |w| Resolved::Object(Obj::Weight(w)))),
                _ => unknown(),
            },
            Obj::Weight(w) => match field {
                "value" => leaf(w.value),
                "unit" => leaf(w.unit.as_str()),
                _ => unknown(),
            },
            Obj::SelectedOption(o) => match field {
                "name" => leaf(o.name.as_str()),
                "value" => leaf(o.value.as_str()),
                _ => unknown(),
            },
            Obj::ProductOption(o) => match field {
                "name" => leaf(o.name.as_str()),
                "values" => Ok(Resolved::List(
                    o.values
                        .iter()
                        .map(|v| Resolved::Leaf(v.as_str().into()))
                        .collect(),
                )),
                _ => unknown(),
            },
            Obj::Category(name) => match field {
                "fullName" => leaf(*name),
                _ => unknown(),
            },
            Obj::BulkPayload(start) => match field {
                "bulkOperation" => Ok(start.operation.clone().map_or(Resolved::Null, |op| {
                    Resolved::Object(Obj::BulkOperation(Box::new(op)))
                })),
                "userErrors" => list(start.user_errors.iter().cloned().map(Obj::BulkUserError)),
                _ => unknown(),
            },
            Obj::BulkOperation(op) => resolve_bulk_operation(op, field),
            Obj::Commerce(co) => commerce::resolve(co, field, args, cx),
            Obj::Life(lo) => order_read::resolve(lo, field, args, cx),
            Obj::BulkUserError(e) => match field {
                "code" => opt_leaf(e.code),
                "message" => leaf(e.message.as_str()),
                "field" => Ok(match &e.field {
                    Some(path) => {
                        Resolved::List(path.iter().map(|f| Resolved::Leaf((*f).into())).collect())
                    }
                    None => Resolved::Null,
                }),
                _ => unknown(),
            },
        }
    }
}

fn resolve_query<'a>(
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
    commerce: &'a Commerce,
) -> Result<Resolved<'a>, String> {
    match field {
        "shop" => object(Obj::Shop),
        "order" => commerce::order_by_id(&commerce.orders, args),
        "orders" => commerce::orders_connection(&commerce.orders, args),
        "inventoryItem" => {
            let id = gid_arg(args, "id", "InventoryItem")?;
            let catalog = cx.catalog.ok_or("catalog unavailable")?;
            let found = id
                .and_then(super::payloads::variant_of_inventory_item)
                .and_then(|variant| {
                    let p = catalog.get(catalog.variant_owner(variant)?)?;
                    p.variants
                        .iter()
                        .find(|v| v.id == variant)
                        .map(|v| Obj::InventoryItem(p, v))
                });
            Ok(found.map_or(Resolved::Null, Resolved::Object))
        }
        "product" => {
            let id = gid_arg(args, "id", "Product")?;
            let catalog = cx.catalog.ok_or("catalog unavailable")?;
            Ok(match id.and_then(|id| catalog.get(id)) {
                Some(p) => Resolved::Object(Obj::Product(p)),
                None => Resolved::Null,
            })
        }
        "products" => {
            let catalog = cx.catalog.ok_or("catalog unavailable")?;
            let page_args = PageArgs::from_args(args, false)?;
            let sort = ProductSort::parse(str_arg(args, "sortKey").unwrap_or("ID"));
            let query = ProductQuery::parse(str_arg(args, "query").unwrap_or_default());
            let page = paginate_products(catalog, &page_args, sort, &query);
            let page = Page {
                items: page
                    .items
                    .into_iter()
                    .map(|(p, c)| (Obj::Product(p), c))
                    .collect(),
                has_next: page.has_next,
                has_prev: page.has_prev,
            };
            connection("ProductConnection", "ProductEdge", page)
        }
        "publications" => {
            let page_args = PageArgs::from_args(args, cx.bulk)?;
            let items = cx
                .publications
                .iter()
                .map(|p| (int_pos(p.id as usize, p.id), Obj::Publication(p)))
                .collect();
            connection(
                "PublicationConnection",
                "PublicationEdge",
                paginate_list(items, &page_args),
            )
        }
        "bulkOperation" => {
            let id = gid_arg(args, "id", "BulkOperation")?;
            let found = id.and_then(|id| cx.host.and_then(|h| h.find(id)));
            Ok(found.map_or(Resolved::Null, |op| {
                Resolved::Object(Obj::BulkOperation(Box::new(op)))
            }))
        }
        _ => order_read::query_field(field, args, cx, commerce)
            .unwrap_or_else(|| Err(format!("Field '{field}' doesn't exist on type 'QueryRoot'"))),
    }
}

fn resolve_product<'a>(
    p: &'a Product,
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
) -> Result<Resolved<'a>, String> {
    match field {
        "id" => leaf(p.gid()),
        "title" => leaf(p.title.as_str()),
        "handle" => leaf(p.handle.as_str()),
        "descriptionHtml" => leaf(p.description_html.as_str()),
        "vendor" => leaf(p.vendor.as_str()),
        "productType" => leaf(p.product_type.as_str()),
        "tags" => Ok(Resolved::List(
            p.tags
                .iter()
                .map(|t| Resolved::Leaf(t.as_str().into()))
                .collect(),
        )),
        "status" => leaf(p.status.as_str()),
        "updatedAt" => leaf(format_datetime(p.updated_at)),
        "category" => Ok(p
            .category
            .as_deref()
            .map_or(Resolved::Null, |c| Resolved::Object(Obj::Category(c)))),
        "onlineStoreUrl" => {
            let online = cx
                .online_store
                .is_some_and(|id| p.publications.contains(&id));
            let url = (online && p.status == ProductStatus::Active)
                .then(|| format!("{}/products/{}", cx.shop.primary_url(), p.handle));
            opt_leaf(url)
        }
        "publishedOnPublication" => {
            let id = gid_arg(args, "publicationId", "Publication")?;
            leaf(id.is_some_and(|id| p.publications.contains(&id)))
        }
        "options" => {
            let n = args
                .get("first")
                .and_then(|v| v.as_i64())
                .map_or(usize::MAX, |n| n.max(0) as usize);
            list(p.options.iter().take(n).map(Obj::ProductOption))
        }
        // Shopify's featured media is the first by position.
        "featuredMedia" => Ok(p
            .media
            .first()
            .map_or(Resolved::Null, |m| Resolved::Object(Obj::Media(m)))),
        "media" => media_connection(p.media.iter().enumerate().collect(), args, cx.bulk),
        "variants" => {
            let page_args = PageArgs::from_args(args, cx.bulk)?;
            let sort = str_arg(args, "sortKey").unwrap_or("POSITION");
            let mut items: Vec<(SortPos, Obj<'a>)> = p
                .variants
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let value = match sort {
                        "SKU" => SortValue::Text(v.sku.clone().unwrap_or_default().to_lowercase()),
                        "TITLE" | "FULL_TITLE" | "NAME" => SortValue::Text(v.title.to_lowercase()),
                        "INVENTORY_QUANTITY" | "INVENTORY_LEVELS_AVAILABLE" => {
                            SortValue::Int(i64::from(v.inventory_quantity))
                        }
                        _ => SortValue::Int(i as i64 + 1),
                    };
                    (SortPos { value, id: v.id }, Obj::Variant(p, v))
                })
                .collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            connection(
                "ProductVariantConnection",
                "ProductVariantEdge",
                paginate_list(items, &page_args),
            )
        }
        _ => Err(format!("Field '{field}' doesn't exist on type 'Product'")),
    }
}

fn resolve_variant<'a>(
    p: &'a Product,
    v: &'a Variant,
    field: &str,
    args: &JsonMap,
    cx: &Context<'a>,
) -> Result<Resolved<'a>, String> {
    match field {
        "id" => leaf(v.gid()),
        "legacyResourceId" => leaf(v.id.to_string()),
        "title" => leaf(v.title.as_str()),
        "sku" => opt_leaf(v.sku.as_deref()),
        "barcode" => opt_leaf(v.barcode.as_deref()),
        "price" => leaf(v.price.to_string()),
        "compareAtPrice" => opt_leaf(v.compare_at_price.map(|c| c.to_string())),
        "inventoryQuantity" => leaf(v.inventory_quantity),
        "inventoryPolicy" => leaf(v.inventory_policy.as_str()),
        "availableForSale" => leaf(v.available_for_sale()),
        "position" => {
            let pos = p.variants.iter().position(|x| x.id == v.id).unwrap_or(0) + 1;
            leaf(pos as u64)
        }
        "selectedOptions" => list(v.selected_options.iter().map(Obj::SelectedOption)),
        "inventoryItem" => object(Obj::InventoryItem(p, v)),
        "product" => object(Obj::Product(p)),
        "media" => {
            let media = p
                .media
                .iter()
                .enumerate()
                .filter(|(_, m)| v.media_ids.contains(&m.id))
                .collect();
            media_connection(media, args, cx.bulk)
        }
        _ => Err(format!(
            "Field '{field}' doesn't exist on type 'ProductVariant'"
        )),
    }
}

fn resolve_bulk_operation<'a>(op: &BulkView, field: &str) -> Result<Resolved<'a>, String> {
    match field {
        "id" => leaf(format!("gid://shopify/BulkOperation/{}", op.id)),
        "status" => leaf(op.status),
        "errorCode" => opt_leaf(op.error_code),
        "objectCount" => leaf(op.object_count.to_string()),
        "rootObjectCount" => leaf(op.root_object_count.to_string()),
        "fileSize" => opt_leaf(op.file_size.map(|s| s.to_string())),
        "url" => opt_leaf(op.url.clone()),
        "partialDataUrl" => opt_leaf(op.partial_data_url.clone()),
        "createdAt" => leaf(format_datetime(op.created_at)),
        "completedAt" => opt_leaf(op.completed_at.map(format_datetime)),
        _ => Err(format!(
            "Field '{field}' doesn't exist on type 'BulkOperation'"
        )),
    }
}
