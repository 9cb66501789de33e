//! Batches handed to the guest straight from the served columns: wasmtime copies each value once,
//! into guest memory, with no owned host copy of the batch in between (for a text-heavy table
//! that copy, and the fresh pages it touched, were a large share of loading it).
//!
//! The record and variant types mirror `sieve:model/types` (`batch`, `column`, `column-data`,
//! `text-column`) and are checked against it when the host function is linked. The leaves borrow
//! a range of a served column through the run's shared `Arc` of tables and lower exactly as the
//! `list<T>` or `string` they stand for. Implementing `ComponentType` and `Lower` by hand uses
//! wasmtime's hidden `__internal` items, which is why the workspace pins wasmtime's exact version.

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Arc;

use sieve_sdk::data::{Text, Values};
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext};
use wasmtime::component::{ComponentType, Lower};

use super::bindings::sieve::model::types::RawLayout;
use super::grouping::Groups;
use super::state::ServedTable;

/// Where a borrowed slice lives: a column of a served table.
#[derive(Clone)]
struct Place {
    tables: Arc<[ServedTable]>,
    table: usize,
    column: usize,
}

impl Place {
    fn values(&self) -> &Values {
        &self.tables[self.table].columns[self.column].values
    }
}

/// A range of a served column's values, lowered as `list<T>`.
pub struct Shared<T: 'static> {
    place: Place,
    range: Range<usize>,
    view: fn(&Values) -> &[T],
}

impl<T> Shared<T> {
    fn slice(&self) -> &[T] {
        (self.view)(self.place.values()).get(self.range.clone()).unwrap_or(&[])
    }
}

/// A byte range of a served text column (or dictionary), lowered as `string`.
pub struct SharedStr {
    place: Place,
    range: Range<usize>,
    view: fn(&Values) -> &str,
}

impl SharedStr {
    fn text(&self) -> &str {
        (self.view)(self.place.values()).get(self.range.clone()).unwrap_or("")
    }
}

/// `text-column`.
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct TextOut {
    bytes: SharedStr,
    offsets: Offsets,
}

/// The `list<u32>` offsets of a text batch: borrowed when the batch starts at the column's first
/// value (they then start at 0 already), rebased otherwise.
pub enum Offsets {
    Shared(Shared<u32>),
    Rebased(Vec<u32>),
}

impl Offsets {
    fn slice(&self) -> &[u32] {
        match self {
            Offsets::Shared(s) => s.slice(),
            Offsets::Rebased(v) => v,
        }
    }
}

/// Implements `ComponentType` and `Lower` for a type that lowers exactly as the `$target` its
/// method `$view` borrows (`[$generics]` are the impl's generic parameters).
macro_rules! lower_as {
    ([$($generics:tt)*] $ty:ty => $target:ty, $view:ident) => {
        // SAFETY: every item forwards to the implementation for `$target`, and what is lowered is
        // the `$target` that `typecheck` accepted the type of.
        unsafe impl<$($generics)*> ComponentType for $ty {
            type Lower = <$target as ComponentType>::Lower;
            const ABI: CanonicalAbiInfo = <$target as ComponentType>::ABI;

            fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
                <$target as ComponentType>::typecheck(ty, types)
            }
        }

        // SAFETY: as above.
        unsafe impl<$($generics)*> Lower for $ty {
            fn linear_lower_to_flat<U>(
                &self,
                cx: &mut LowerContext<'_, U>,
                ty: InterfaceType,
                dst: &mut MaybeUninit<Self::Lower>,
            ) -> wasmtime::Result<()> {
                <$target as Lower>::linear_lower_to_flat(self.$view(), cx, ty, dst)
            }

            fn linear_lower_to_memory<U>(
                &self,
                cx: &mut LowerContext<'_, U>,
                ty: InterfaceType,
                offset: usize,
            ) -> wasmtime::Result<()> {
                <$target as Lower>::linear_lower_to_memory(self.$view(), cx, ty, offset)
            }
        }
    };
}

/// A `list<u8>` of little-endian bytes (`sieve:model@0.1.2`'s raw reads and groupings): a
/// served column's bytes borrowed in place, or u32s the host computed. Wasm is little-endian, and
/// so is every target the host builds for (checked below), so the in-memory bytes are the wire's.
pub enum ByteList {
    Shared(Shared<u8>),
    Words(Vec<u32>),
    /// One of a grouping's lists, which may be kept for later runs.
    Grouped(Arc<Groups>, fn(&Groups) -> &[u32]),
    Empty,
}

#[cfg(target_endian = "big")]
compile_error!("raw reads lower the host's in-memory bytes as little-endian lists");

impl ByteList {
    fn bytes(&self) -> &[u8] {
        match self {
            ByteList::Shared(s) => s.slice(),
            ByteList::Words(w) => bytemuck::cast_slice(w),
            ByteList::Grouped(groups, list) => bytemuck::cast_slice(list(groups)),
            ByteList::Empty => &[],
        }
    }
}

lower_as!([T: Lower + Send + Sync + 'static] Shared<T> => [T], slice);
lower_as!([] SharedStr => str, text);
lower_as!([] Offsets => [u32], slice);
lower_as!([] ByteList => [u8], bytes);

/// `column-data`.
#[derive(ComponentType, Lower)]
#[component(variant)]
pub enum DataOut {
    #[component(name = "text")]
    Text(TextOut),
    #[component(name = "dictionary")]
    Dictionary(Shared<u32>),
    #[component(name = "int64")]
    Int64(Shared<i64>),
    #[component(name = "float64")]
    Float64(Shared<f64>),
    #[component(name = "boolean")]
    Boolean(Shared<bool>),
    #[component(name = "date")]
    Date(Shared<i32>),
    #[component(name = "timestamp")]
    Timestamp(Shared<i64>),
}

/// `column`.
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct ColumnOut {
    pub name: String,
    pub data: DataOut,
    pub validity: Option<Vec<u8>>,
}

/// `batch`.
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct BatchOut {
    pub start: u64,
    pub len: u32,
    pub columns: Vec<ColumnOut>,
}

/// `raw-column` (0.1.2).
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct RawColumnOut {
    pub name: String,
    pub layout: RawLayout,
    pub values: ByteList,
    pub offsets: ByteList,
    pub validity: Option<Vec<u8>>,
}

/// `raw-batch` (0.1.2).
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct RawBatchOut {
    pub start: u64,
    pub len: u32,
    pub columns: Vec<RawColumnOut>,
}

/// `raw-text` (0.1.2).
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct RawTextOut {
    pub bytes: ByteList,
    pub offsets: ByteList,
}

/// `grouping` (0.1.2).
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct GroupingOut {
    pub rows: ByteList,
    pub starts: ByteList,
    #[component(name = "group-of-code")]
    pub group_of_code: ByteList,
}

/// `groups` as the guest receives them.
pub fn grouping(groups: Arc<Groups>) -> GroupingOut {
    let list = |list: fn(&Groups) -> &[u32]| {
        if list(&groups).is_empty() { ByteList::Empty } else { ByteList::Grouped(groups.clone(), list) }
    };
    GroupingOut {
        rows: list(|g| &g.rows),
        starts: list(|g| &g.starts),
        group_of_code: list(|g| &g.group_of_code),
    }
}

fn text_of(values: &Values) -> Option<&Text> {
    match values {
        Values::Text(t) => Some(t),
        Values::Dictionary { dictionary, .. } => Some(dictionary),
        _ => None,
    }
}

fn text_bytes(values: &Values) -> &str {
    text_of(values).map_or("", |t| t.raw().0)
}

fn text_offsets(values: &Values) -> &[u32] {
    text_of(values).map_or(&[], |t| t.raw().1)
}

/// Every value of a column as the bytes `read-raw` serves (text: its UTF-8 bytes).
fn value_bytes(values: &Values) -> &[u8] {
    match values {
        Values::Text(t) => t.raw().0.as_bytes(),
        Values::Dictionary { indices, .. } => bytemuck::cast_slice(indices),
        Values::Int64(v) | Values::Timestamp(v) => bytemuck::cast_slice(v),
        Values::Float64(v) => bytemuck::cast_slice(v),
        // A bool is one byte, 0 or 1: exactly the `boolean` layout.
        Values::Boolean(v) => bytemuck::checked::try_cast_slice(v).unwrap_or(&[]),
        Values::Date(v) => bytemuck::cast_slice(v),
    }
}

fn text_bytes_raw(values: &Values) -> &[u8] {
    text_bytes(values).as_bytes()
}

fn text_offsets_raw(values: &Values) -> &[u8] {
    bytemuck::cast_slice(text_offsets(values))
}

/// Rows `start..end` of `text`, the text served at `place`.
fn text_out(place: Place, text: &Text, start: usize, end: usize) -> TextOut {
    let (_, offsets) = text.raw();
    let (from, to) = (offsets[start] as usize, offsets[end] as usize);
    let offsets = if start == 0 {
        Offsets::Shared(Shared { place: place.clone(), range: 0..end + 1, view: text_offsets })
    } else {
        Offsets::Rebased(offsets[start..=end].iter().map(|o| o - offsets[start]).collect())
    };
    TextOut { bytes: SharedStr { place, range: from..to, view: text_bytes }, offsets }
}

/// Rows `start..end` of column `column` of served table `table`, as the guest receives them.
pub fn column_data(
    tables: &Arc<[ServedTable]>,
    table: usize,
    column: usize,
    start: usize,
    end: usize,
) -> DataOut {
    let place = Place { tables: tables.clone(), table, column };
    let values: &Values = &tables[table].columns[column].values;
    let range = start..end;
    match values {
        Values::Text(t) => DataOut::Text(text_out(place, t, start, end)),
        Values::Dictionary { .. } => DataOut::Dictionary(Shared {
            place,
            range,
            view: |v| if let Values::Dictionary { indices, .. } = v { indices } else { &[] },
        }),
        Values::Int64(_) => {
            DataOut::Int64(Shared { place, range, view: |v| if let Values::Int64(x) = v { x } else { &[] } })
        }
        Values::Float64(_) => DataOut::Float64(Shared {
            place,
            range,
            view: |v| if let Values::Float64(x) = v { x } else { &[] },
        }),
        Values::Boolean(_) => DataOut::Boolean(Shared {
            place,
            range,
            view: |v| if let Values::Boolean(x) = v { x } else { &[] },
        }),
        Values::Date(_) => {
            DataOut::Date(Shared { place, range, view: |v| if let Values::Date(x) = v { x } else { &[] } })
        }
        Values::Timestamp(_) => DataOut::Timestamp(Shared {
            place,
            range,
            view: |v| if let Values::Timestamp(x) = v { x } else { &[] },
        }),
    }
}

/// The whole dictionary `text` of column `column` of served table `table`, as a `text-column`.
pub fn dictionary(tables: &Arc<[ServedTable]>, table: usize, column: usize, text: &Text) -> TextOut {
    text_out(Place { tables: tables.clone(), table, column }, text, 0, text.len())
}

/// Rows `start..end` of column `column` of served table `table`, as `read-raw` serves them.
pub fn raw_column(
    tables: &Arc<[ServedTable]>,
    table: usize,
    column: usize,
    start: usize,
    end: usize,
) -> (RawLayout, ByteList, ByteList) {
    let place = Place { tables: tables.clone(), table, column };
    let values: &Values = &tables[table].columns[column].values;
    let (layout, width) = match values {
        Values::Text(text) => {
            let (_, offsets) = text.raw();
            let (from, to) = (offsets[start] as usize, offsets[end] as usize);
            let offsets = if start == 0 {
                ByteList::Shared(Shared {
                    place: place.clone(),
                    range: 0..4 * (end + 1),
                    view: text_offsets_raw,
                })
            } else {
                ByteList::Words(offsets[start..=end].iter().map(|o| o - offsets[start]).collect())
            };
            let bytes = ByteList::Shared(Shared { place, range: from..to, view: value_bytes });
            return (RawLayout::Text, bytes, offsets);
        }
        Values::Dictionary { .. } => (RawLayout::Dictionary, 4),
        Values::Int64(_) => (RawLayout::Int64, 8),
        Values::Float64(_) => (RawLayout::Float64, 8),
        Values::Boolean(_) => (RawLayout::Boolean, 1),
        Values::Date(_) => (RawLayout::Date, 4),
        Values::Timestamp(_) => (RawLayout::Timestamp, 8),
    };
    let values = ByteList::Shared(Shared { place, range: start * width..end * width, view: value_bytes });
    (layout, values, ByteList::Empty)
}

/// The whole dictionary `text` of column `column` of served table `table`, as a `raw-text`.
pub fn dictionary_raw(tables: &Arc<[ServedTable]>, table: usize, column: usize, text: &Text) -> RawTextOut {
    let place = Place { tables: tables.clone(), table, column };
    let (bytes, offsets) = text.raw();
    RawTextOut {
        bytes: ByteList::Shared(Shared { place: place.clone(), range: 0..bytes.len(), view: text_bytes_raw }),
        offsets: ByteList::Shared(Shared { place, range: 0..4 * offsets.len(), view: text_offsets_raw }),
    }
}
