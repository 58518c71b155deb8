"""Core IR objects: operations, values, blocks, regions, types, attributes, locations."""

from irq.ir.attributes import (
                               ArrayAttr,
                               Attribute,
                               BoolAttr,
                               DenseArrayAttr,
                               DialectAttribute,
                               DictionaryAttr,
                               FloatAttr,
                               IntegerAttr,
                               OpaqueAttr,
                               StringAttr,
                               SymbolRefAttr,
                               TypeAttr,
                               UnitAttr,
                               to_attribute,
)
from irq.ir.block import Block, Region
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr
from irq.ir.dialect import Context, Dialect, default_context, register_dialect
from irq.ir.equality import structural_diff, structurally_equal
from irq.ir.location import (
                               UNKNOWN_LOC,
                               CallSiteLoc,
                               FileLineColLoc,
                               FusedLoc,
                               Location,
                               NameLoc,
                               SourcePosLoc,
                               UnknownLoc,
)
from irq.ir.opdef import (
                               Constraint,
                               Op,
                               attribute,
                               operand,
                               optional_operand,
                               optional_result,
                               region,
                               result,
                               successor,
                               variadic_operand,
                               variadic_region,
                               variadic_result,
                               variadic_successor,
)
from irq.ir.operation import IRMapping, Operation, UnregisteredOp
from irq.ir.resources import Blob, ResourceHandle
from irq.ir.types import (
                               ComplexType,
                               DialectType,
                               FloatType,
                               FunctionType,
                               IndexType,
                               IntegerType,
                               NoneType,
                               OpaqueType,
                               ShapedType,
                               TensorType,
                               TupleType,
                               Type,
                               VectorType,
)
from irq.ir.values import BlockArgument, OpResult, Use, Value

__all__ = [
    "ArrayAttr", "Attribute", "BoolAttr", "DenseArrayAttr", "DialectAttribute", "DictionaryAttr", "FloatAttr",
    "IntegerAttr", "OpaqueAttr", "StringAttr", "SymbolRefAttr", "TypeAttr", "UnitAttr", "to_attribute",
    "Block", "Region", "DenseElementsAttr", "DenseResourceElementsAttr", "Context", "Dialect", "default_context",
    "register_dialect", "CallSiteLoc", "FileLineColLoc", "FusedLoc", "Location", "NameLoc", "SourcePosLoc",
    "UNKNOWN_LOC", "UnknownLoc", "Constraint", "Op", "attribute", "operand", "optional_operand", "optional_result",
    "region", "result", "successor", "variadic_operand", "variadic_region", "variadic_result", "variadic_successor",
    "structural_diff", "structurally_equal", "IRMapping", "Operation", "UnregisteredOp", "Blob", "ResourceHandle",
    "ComplexType", "DialectType",
    "FloatType", "FunctionType", "IndexType", "IntegerType", "NoneType", "OpaqueType", "ShapedType", "TensorType",
    "TupleType", "Type", "VectorType", "BlockArgument", "OpResult", "Use", "Value",
]
