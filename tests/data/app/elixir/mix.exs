defmodule Hello.MixProject do
  def project do
    [app: :hello_web, version: "0.1.0", deps: deps()]
  end
  defp deps, do: [{:phoenix, "~> 1.7"}]
end
