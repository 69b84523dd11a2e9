//! Instantiation rules, written once: the values of globals and element
//! items, and the order and bounds of active segment initialisation. Both
//! runtimes allocate an instance their own way, then let these functions
//! decide what goes where through [`InitTarget`].

use super::bulk;
use super::meta::{self, DataRec, ElemRec, GlobalRec, Meta};
use super::trap::TrapCode;
use super::types::ValType;

/// An instance under construction, as instantiation sees it.
pub trait InitTarget {
    /// Bits of global `g` in the module's global index space (imported
    /// globals first); 0 when out of range.
    fn global(&self, g: u32) -> u64;
    /// The value of `ref.func f`: the address of the instance's `VmFuncRef`.
    fn func_ref(&self, f: u32) -> u64;
    /// The resolved items of element segment `elem` and the current
    /// contents of table `table`, borrowed at once; `None` when either does
    /// not exist.
    fn elem_and_table(&mut self, elem: u32, table: u32) -> Option<(&[u64], &mut [u64])>;
    /// The current contents of linear memory, `None` when there is none.
    fn memory(&mut self) -> Option<&mut [u8]>;
}

/// The initial bits of a defined global. `i32`/`f32` globals keep only their
/// low 32 bits, as generated code expects of every 32-bit slot.
pub fn global_value(g: GlobalRec, t: &impl InitTarget) -> u64 {
    let bits = match g.init_kind {
        meta::init::CONST => g.init,
        meta::init::GLOBAL_GET => u32::try_from(g.init).map_or(0, |i| t.global(i)),
        meta::init::REF_FUNC => u32::try_from(g.init).map_or(0, |f| t.func_ref(f)),
        _ => 0,
    };
    match ValType::from_u8(g.ty) {
        Some(ValType::I32 | ValType::F32) => bits & 0xffff_ffff,
        _ => bits,
    }
}

/// The value of one element item (see [`meta::ITEM_NULL`]).
pub fn elem_item(item: u32, t: &impl InitTarget) -> u64 {
    if item == meta::ITEM_NULL {
        0
    } else if item & meta::ITEM_GLOBAL != 0 {
        t.global(item & !meta::ITEM_GLOBAL)
    } else {
        t.func_ref(item)
    }
}

/// The resolved items of an element segment, in order.
pub fn elem_items<'a, T: InitTarget>(
    meta: &Meta<'a>,
    e: ElemRec,
    t: &'a T,
) -> impl Iterator<Item = u64> + 'a {
    meta.elem_items(e).map(move |item| elem_item(item, t))
}

fn offset(kind: u8, v: u32, t: &impl InitTarget) -> u32 {
    if kind == meta::offset::GLOBAL_GET {
        t.global(v) as u32
    } else {
        v
    }
}

/// Copies the active element segments into their tables, then the active
/// data segments into memory, in module order. The first segment out of
/// bounds traps instantiation; what was written before it stays written, as
/// the spec requires.
pub fn init_active_segments(meta: &Meta<'_>, t: &mut impl InitTarget) -> Result<(), TrapCode> {
    for (i, e) in meta.elems().iter().enumerate() {
        if e.mode != meta::mode::ACTIVE {
            continue;
        }
        let off = offset(e.offset_kind, e.offset, t);
        let (items, table) = t
            .elem_and_table(i as u32, e.table)
            .ok_or(TrapCode::TableOutOfBounds)?;
        let len = u32::try_from(items.len()).map_err(|_| TrapCode::TableOutOfBounds)?;
        if !bulk::copy(table, off, items, 0, len) {
            return Err(TrapCode::TableOutOfBounds);
        }
    }
    for d in meta.datas().iter() {
        if d.mode != meta::mode::ACTIVE {
            continue;
        }
        let off = offset(d.offset_kind, d.offset, t);
        let bytes = meta.pool_bytes(d.bytes).unwrap_or(&[]);
        let len = u32::try_from(bytes.len()).map_err(|_| TrapCode::MemoryOutOfBounds)?;
        let mem = t.memory().ok_or(TrapCode::MemoryOutOfBounds)?;
        if !bulk::copy(mem, off, bytes, 0, len) {
            return Err(TrapCode::MemoryOutOfBounds);
        }
    }
    Ok(())
}

/// Whether an element segment is dropped once instantiation is over: all but
/// passive ones are (active ones were used, declared ones never can be).
pub fn elem_dropped_after_init(e: ElemRec) -> bool {
    e.mode != meta::mode::PASSIVE
}

/// Whether a data segment is dropped once instantiation is over: active
/// ones are.
pub fn data_dropped_after_init(d: DataRec) -> bool {
    d.mode == meta::mode::ACTIVE
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        globals: [u64; 2],
        elems: [[u64; 2]; 1],
        table: [u64; 4],
        mem: [u8; 8],
    }

    impl InitTarget for Fake {
        fn global(&self, g: u32) -> u64 {
            self.globals.get(g as usize).copied().unwrap_or(0)
        }
        fn func_ref(&self, f: u32) -> u64 {
            0x1000 + f as u64
        }
        fn elem_and_table(&mut self, e: u32, t: u32) -> Option<(&[u64], &mut [u64])> {
            (t == 0).then_some(())?;
            Some((self.elems.get(e as usize)?, &mut self.table))
        }
        fn memory(&mut self) -> Option<&mut [u8]> {
            Some(&mut self.mem)
        }
    }

    fn fake() -> Fake {
        Fake {
            globals: [0x1_0000_0002, 7],
            elems: [[1, 2]],
            table: [0; 4],
            mem: [0; 8],
        }
    }

    #[test]
    fn globals_and_items_resolve() {
        let t = fake();
        let g = |ty: ValType, kind, init| GlobalRec {
            ty: ty as u8,
            mutable: 0,
            init_kind: kind,
            pad: 0,
            init,
        };
        assert_eq!(
            global_value(g(ValType::I32, meta::init::GLOBAL_GET, 0), &t),
            2
        );
        assert_eq!(
            global_value(g(ValType::I64, meta::init::GLOBAL_GET, 0), &t),
            0x1_0000_0002
        );
        assert_eq!(
            global_value(g(ValType::FuncRef, meta::init::REF_FUNC, 3), &t),
            0x1003
        );
        assert_eq!(
            global_value(g(ValType::FuncRef, meta::init::REF_NULL, 0), &t),
            0
        );
        assert_eq!(elem_item(meta::ITEM_NULL, &t), 0);
        assert_eq!(elem_item(meta::ITEM_GLOBAL | 1, &t), 7);
        assert_eq!(elem_item(5, &t), 0x1005);
    }
}
