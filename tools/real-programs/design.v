// A small design for the yosys run of tools/bench's real section: an
// accumulator with a multiplier, a counter and a comparator.
module top (input clk, input rst, input [7:0] a, input [7:0] b,
            input [1:0] op, output reg [15:0] acc, output [7:0] count,
            output eq);
  reg [7:0] c;
  always @(posedge clk) begin
    if (rst) begin
      acc <= 0;
      c <= 0;
    end else begin
      c <= c + 1;
      case (op)
        2'd0: acc <= acc + a;
        2'd1: acc <= acc - b;
        2'd2: acc <= acc + a * b;
        2'd3: acc <= acc ^ {a, b};
      endcase
    end
  end
  assign count = c;
  assign eq = (a == b);
endmodule
